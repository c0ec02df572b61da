// bench:metrics — metric points per second accepted through the API into PostgreSQL with the harness's own
// batching (MetricsReporter over HttpMasterClient, several trials reporting at once, the master in its own
// process as in a real cluster), next to plain multi-row INSERTs of the same rows into the same table, in the
// same run. Rounds alternate API and INSERT phases so that machine noise hits both alike; the ratio is the
// median of the per-round ratios.
import path from 'node:path';
import pg from 'pg';
import { HttpMasterClient } from '../../harness/src/core/masterClient';
import { MetricsReporter } from '../../harness/src/core/metricsReporter';
import { startMasterProcess, tmpDir, api } from '../../test/helpers/processes';
import { freshDatabase, postgresAvailable } from '../../test/helpers/services';

const POINTS_PER_TRIAL = Number(process.env.BENCH_POINTS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TRIALS = 4;
const BATCH = 100;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function point(step: number): { stepsCompleted: number; metrics: Record<string, number> } {
  return { stepsCompleted: step, metrics: { loss: 1 / (1 + step), accuracy: step / (step + 10), lr: 0.001, grad_norm: Math.sin(step) + 2 } };
}

if (!(await postgresAvailable())) {
  console.error('bench:metrics needs PostgreSQL (HONE_TEST_PG)');
  process.exit(1);
}
const db = await freshDatabase('hone_bench_metrics');
const master = await startMasterProcess({ dataDir: tmpDir('bench-metrics'), dbUrl: db.url, env: { HONE_LOG_LEVEL: 'warn' } });
const sql = new pg.Pool({ connectionString: db.url, max: TRIALS });
try {
  // Trials with allocations (and so task tokens) but no agent: nothing runs, we only report metrics.
  const config = `name: bench-metrics
entrypoint: model.ts:createTrial
searcher: {name: random, metric: loss, max_trials: ${TRIALS}, max_concurrent_trials: ${TRIALS}, max_length: {batches: 10}}
hyperparameters: {x: {type: double, minval: 0, maxval: 1}}`;
  const created = await api(master.url, 'POST', '/experiments', { config });
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  let tokens: Array<{ trial_id: number; token: string }> = [];
  for (let i = 0; i < 200 && tokens.length < TRIALS; i++) {
    await new Promise((r) => setTimeout(r, 100));
    tokens = (await sql.query('SELECT trial_id::int AS trial_id, token FROM allocations ORDER BY trial_id')).rows;
  }
  if (tokens.length < TRIALS) throw new Error('allocations were not created');

  let step = 0;
  const apiPhase = async (): Promise<number> => {
    const base = step;
    step += POINTS_PER_TRIAL;
    const t0 = performance.now();
    await Promise.all(
      tokens.map(async ({ trial_id, token }) => {
        const client = new HttpMasterClient({ baseUrl: master.url, token });
        const reporter = new MetricsReporter(client, trial_id, { maxPoints: BATCH });
        // A fast training loop: one point per step, yielding to the event loop every few steps as a
        // loop awaiting its gradients would; the reporter decides when to send.
        for (let s = base + 1; s <= base + POINTS_PER_TRIAL; s++) {
          const p = point(s);
          reporter.addTraining(p.stepsCompleted, p.metrics);
          if (s % 10 === 0) await new Promise((r) => setImmediate(r));
        }
        await reporter.flush();
      }),
    );
    return (TRIALS * POINTS_PER_TRIAL) / ((performance.now() - t0) / 1000);
  };
  const insertPhase = async (): Promise<number> => {
    const base = step;
    step += POINTS_PER_TRIAL;
    const t0 = performance.now();
    await Promise.all(
      tokens.map(async ({ trial_id }) => {
        const c = await sql.connect();
        for (let s = base + 1; s <= base + POINTS_PER_TRIAL; s += BATCH) {
          const params: unknown[] = [trial_id, 'training'];
          const values: string[] = [];
          for (let k = s; k < s + BATCH && k <= base + POINTS_PER_TRIAL; k++) {
            const p = point(k);
            params.push(p.stepsCompleted, JSON.stringify(p.metrics));
            values.push(`($1, $2, $${params.length - 1}, $${params.length})`);
          }
          await c.query(`INSERT INTO metrics (trial_id, grp, steps_completed, metrics) VALUES ${values.join(',')}`, params);
        }
        c.release();
      }),
    );
    return (TRIALS * POINTS_PER_TRIAL) / ((performance.now() - t0) / 1000);
  };

  await apiPhase(); // warm-up: connections, caches, JIT
  await insertPhase();
  const apiRates: number[] = [];
  const insertRates: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const first = r % 2 === 0;
    const a = first ? await apiPhase() : 0;
    const i = await insertPhase();
    const a2 = first ? a : await apiPhase();
    apiRates.push(a2);
    insertRates.push(i);
    ratios.push(a2 / i);
    console.log(`round ${r + 1}: API ${Math.round(a2)} points/s, INSERT ${Math.round(i)} points/s, ratio ${(a2 / i).toFixed(3)}`);
  }
  const stored = Number((await sql.query('SELECT count(*)::int AS n FROM metrics')).rows[0].n);
  if (stored !== step * TRIALS) throw new Error(`expected ${step * TRIALS} rows, found ${stored}`);
  const result = {
    points_per_phase: TRIALS * POINTS_PER_TRIAL,
    batch: BATCH,
    trials: TRIALS,
    rounds: ROUNDS,
    api_points_per_s: Math.round(median(apiRates)),
    insert_points_per_s: Math.round(median(insertRates)),
    ratio: Number(median(ratios).toFixed(3)),
    target_ratio: 0.5,
  };
  console.log(`API (harness batching, >= ${BATCH}/request): ${result.api_points_per_s} points/s; plain multi-row INSERT: ${result.insert_points_per_s} points/s`);
  console.log(`ratio (median of rounds): ${result.ratio} (target >= 0.5)`);
  console.log(JSON.stringify(result));
} finally {
  await sql.end();
  await master.kill();
  await db.drop();
}
void path;
