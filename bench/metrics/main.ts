// bench:metrics — metric points per second accepted through the API into PostgreSQL with the harness's own
// batching (MetricsReporter over HttpMasterClient, several trials reporting at once), next to plain multi-row
// INSERTs of the same rows into the same table in the same run.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import pg from 'pg';
import { HttpMasterClient } from '../../harness/src/core/masterClient';
import { MetricsReporter } from '../../harness/src/core/metricsReporter';
import { startMaster } from '../../master/src/server';
import { freshDatabase, postgresAvailable } from '../../test/helpers/services';

const POINTS_PER_TRIAL = Number(process.env.BENCH_POINTS ?? 20_000);
const TRIALS = 4;
const BATCH = 100;

function point(step: number): { stepsCompleted: number; metrics: Record<string, number> } {
  return { stepsCompleted: step, metrics: { loss: 1 / (1 + step), accuracy: step / (step + 10), lr: 0.001, grad_norm: Math.sin(step) + 2 } };
}

if (!(await postgresAvailable())) {
  console.error('bench:metrics needs PostgreSQL (HONE_TEST_PG)');
  process.exit(1);
}
const db = await freshDatabase('hone_bench_metrics');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-bench-metrics-'));
const master = await startMaster({ port: 0, dataDir, dbUrl: db.url, logLevel: 'warn' });
try {
  // Trials with allocations (and so task tokens) but no agent: nothing runs, we only report metrics.
  const config = `name: bench-metrics
entrypoint: model.ts:createTrial
searcher: {name: random, metric: loss, max_trials: ${TRIALS}, max_concurrent_trials: ${TRIALS}, max_length: {batches: 10}}
hyperparameters: {x: {type: double, minval: 0, maxval: 1}}`;
  const res = await fetch(`${master.url}/api/v1/experiments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ config }) });
  if (res.status !== 201) throw new Error(`create failed: ${await res.text()}`);
  let tokens: Array<{ trial_id: number; token: string }> = [];
  for (let i = 0; i < 100 && tokens.length < TRIALS; i++) {
    master.ctx.rm.requestPass();
    await new Promise((r) => setTimeout(r, 100));
    tokens = (await master.ctx.db.query<{ trial_id: number; token: string }>('SELECT trial_id, token FROM allocations ORDER BY trial_id')).rows;
  }
  if (tokens.length < TRIALS) throw new Error('allocations were not created');

  // Through the API, as the harness reports.
  const t0 = performance.now();
  await Promise.all(
    tokens.map(async ({ trial_id, token }) => {
      const client = new HttpMasterClient({ baseUrl: master.url, token });
      const reporter = new MetricsReporter(client, trial_id, { maxPoints: BATCH });
      for (let s = 1; s <= POINTS_PER_TRIAL; s++) {
        const p = point(s);
        reporter.addTraining(p.stepsCompleted, p.metrics);
        if (s % BATCH === 0) await reporter.flush();
      }
      await reporter.flush();
    }),
  );
  const apiSec = (performance.now() - t0) / 1000;
  const apiCount = Number((await master.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM metrics')).rows[0]!.n);
  if (apiCount !== TRIALS * POINTS_PER_TRIAL) throw new Error(`expected ${TRIALS * POINTS_PER_TRIAL} rows, found ${apiCount}`);

  // Plain multi-row INSERTs of the same rows, same batch size, same concurrency, one connection per trial.
  const t1 = performance.now();
  await Promise.all(
    tokens.map(async ({ trial_id }) => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      for (let s = 1; s <= POINTS_PER_TRIAL; s += BATCH) {
        const params: unknown[] = [trial_id, 'training'];
        const values: string[] = [];
        for (let k = s; k < s + BATCH && k <= POINTS_PER_TRIAL; k++) {
          const p = point(k);
          params.push(p.stepsCompleted, JSON.stringify(p.metrics));
          values.push(`($1, $2, $${params.length - 1}, $${params.length})`);
        }
        await c.query(`INSERT INTO metrics (trial_id, grp, steps_completed, metrics) VALUES ${values.join(',')}`, params);
      }
      await c.end();
    }),
  );
  const insertSec = (performance.now() - t1) / 1000;
  const total = TRIALS * POINTS_PER_TRIAL;
  const result = {
    points: total,
    batch: BATCH,
    trials: TRIALS,
    api_points_per_s: Math.round(total / apiSec),
    insert_points_per_s: Math.round(total / insertSec),
    ratio: Number((insertSec / apiSec).toFixed(3)),
    target_ratio: 0.5,
  };
  console.log(`API (harness batching, ${BATCH}/request): ${result.api_points_per_s} points/s`);
  console.log(`plain multi-row INSERT:                 ${result.insert_points_per_s} points/s`);
  console.log(`ratio: ${result.ratio} (target >= 0.5)`);
  console.log(JSON.stringify(result));
} finally {
  await master.close();
  await db.drop();
}
