// The real PostgreSQL goes away while a trial trains: the master's connections are terminated and new ones are
// refused for 10 s (ALLOW_CONNECTIONS false). The master keeps running, answers 503 UNAVAILABLE with Retry-After
// (never a 500) while the database is down, reconnects when it is back, and the experiment completes with no
// restart and every validation stored.
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, MetricPoint } from '@hone/protocol';
import { archive } from '../helpers/archive';
import { waitForExperimentEnd } from '../helpers/experiments';
import { api, startAgentProcess, startMasterProcess, tmpDir, tokenFor, waitFor, type Proc } from '../helpers/processes';
import { freshDatabase, PG_URL, postgresAvailable } from '../helpers/services';

const hasPostgres = await postgresAvailable();

// A slow, steady trial (a quarter second a batch, metrics every 4) so the outage lands mid-training.
const TRAIN = `export default async function train(core: any): Promise<void> {
  let steps = 0;
  for await (const op of core.searcher.operations()) {
    while (steps < op.length) {
      await new Promise((r) => setTimeout(r, 250));
      steps += 1;
      if (steps % 4 === 0) await core.train.reportTrainingMetrics(steps, { loss: 1 / steps });
    }
    await core.train.reportValidationMetrics(steps, { validation_loss: 1 / steps });
    await op.reportCompleted(1 / steps);
  }
}
`;
const CONFIG = 'name: outage\nentrypoint: train.ts\nhyperparameters: {lr: 0.1}\nsearcher: {name: single, metric: validation_loss, max_length: {batches: 100}}\n';

describe.skipIf(!hasPostgres)('PostgreSQL outage during an experiment', () => {
  const procs: Proc[] = [];
  let drop: () => Promise<void> = async () => undefined;
  let dbName = '';
  const admin = new pg.Client({ connectionString: PG_URL });
  afterAll(async () => {
    if (dbName) await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    for (const p of procs) await p.kill('SIGKILL');
    await drop();
  });

  it('answers 503 with Retry-After while the database is down, and the experiment completes', async () => {
    const fresh = await freshDatabase('hone_outage');
    drop = fresh.drop;
    dbName = new URL(fresh.url).pathname.slice(1);
    await admin.connect();
    const dataDir = tmpDir('outage');
    const master = await startMasterProcess({ dataDir, dbUrl: fresh.url });
    procs.push(master);
    procs.push(startAgentProcess({ masterUrl: master.url, id: 'agent-outage', slots: 1, workDir: path.join(dataDir, 'work') }));

    const context = await archive({ 'train.ts': TRAIN });
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: CONFIG, context: context.toString('base64') });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    await waitFor('the trial to report training metrics', async () => {
      const d = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`);
      return d.body.trials[0]?.latestTraining ? true : null;
    }, 120_000);

    // The outage: no new connections, and every existing one of the master terminated.
    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
    const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
    expect(killed.rowCount).toBeGreaterThan(0);
    const answers: Array<{ status: number; retryAfter: string | null; code?: string }> = [];
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const res = await fetch(`${master.url}/api/v1/experiments/${id}`, { headers: { authorization: `Bearer ${tokenFor(master.url)}` } });
      const body = (await res.json()) as { error?: { code: string } };
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), ...(body.error ? { code: body.error.code } : {}) });
      await new Promise((r) => setTimeout(r, 300));
    }
    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);

    const unavailable = answers.filter((a) => a.status === 503);
    expect(unavailable.length).toBeGreaterThan(answers.length / 2);
    for (const a of unavailable) expect(a).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), code: 'UNAVAILABLE' });
    expect(answers.filter((a) => a.status !== 503 && a.status !== 200)).toEqual([]);
    expect(master.child.exitCode).toBeNull();

    // Back: the pool reconnects, the harness's retried reports land, the experiment completes.
    const done = await waitForExperimentEnd(master.url, id, 180_000);
    expect(done.state, JSON.stringify(done.trials.map((t) => t.failure))).toBe('COMPLETED');
    const trial = done.trials[0]!;
    expect(trial.restarts).toBe(0);
    const v = await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${trial.id}/metrics?group=validation&raw=true`);
    expect(v.body.points.map((p) => p.stepsCompleted)).toEqual([100]);
    expect(master.child.exitCode).toBeNull();
    expect(master.output.join('\n')).not.toMatch(/unhandled error|uncaughtException/);
  }, 400_000);
});
