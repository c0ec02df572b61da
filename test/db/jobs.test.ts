// The outbox and the in-process job queue, on PGlite and on the real PostgreSQL: intents deduplicated by key, a
// job retried with backoff after a handler error, given up (and reported) after its last attempt, a job cut
// short by a crash run again by the next master; and the handlers of deletion, log retention and webhooks' rows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { CheckpointStorageConfig } from '@hone/protocol';
import { insertCheckpoint } from '../../master/src/db/checkpoints';
import { getExperimentSummary } from '../../master/src/db/experiments';
import { enqueueJob, getJob, listJobs } from '../../master/src/db/jobs';
import { insertLogs, tailLogs } from '../../master/src/db/logs';
import { insertWebhook, webhooksFor } from '../../master/src/db/webhooks';
import { EventBus } from '../../master/src/events';
import { ExperimentController } from '../../master/src/experiments/controller';
import { deleteExperimentHandler } from '../../master/src/jobs/handlers/deleteExperiment';
import { logRetentionHandler } from '../../master/src/jobs/handlers/logRetention';
import { InProcessQueue } from '../../master/src/jobs/inProcessQueue';
import { JobRelay } from '../../master/src/jobs/relay';
import { JobRunner } from '../../master/src/jobs/runner';
import type { JobHandler } from '../../master/src/jobs/types';
import { waitFor } from '../helpers/processes';
import { describeBoth } from './both';
import { addExperimentWithTrial } from './fixtures';

const log = pino({ level: 'silent' });

describeBoth('background jobs', (t) => {
  const stops: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    await t.db.query('DELETE FROM jobs');
    await t.db.query('DELETE FROM webhooks');
  });
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  /** A master's job machinery: runner, in-process queue and relay over the suite's database. */
  function startJobs(handlers: JobHandler<any>[], retryBaseMs = 20) {
    const runner = new JobRunner(t.db, handlers, log, retryBaseMs);
    const queue = new InProcessQueue(runner, log);
    const relay = new JobRelay(t.db, queue, log, 25);
    relay.start();
    const stop = async () => {
      await relay.stop();
      await queue.close();
    };
    stops.push(stop);
    return { runner, queue, relay, stop };
  }

  it('writes an intent once per key while it is pending', async () => {
    const a = await enqueueJob(t.db, { kind: 'k', payload: { x: 1 }, dedupeKey: 'same' });
    expect(a).not.toBeNull();
    expect(await enqueueJob(t.db, { kind: 'k', payload: { x: 2 }, dedupeKey: 'same' })).toBeNull();
    expect(await enqueueJob(t.db, { kind: 'k', payload: { x: 3 } })).not.toBeNull();
    expect((await listJobs(t.db, 'k')).map((j) => j.payload)).toEqual([{ x: 1 }, { x: 3 }]);
  });

  it('writes nothing when the transaction that would cause it rolls back', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await enqueueJob(tx, { kind: 'k', payload: {} });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await listJobs(t.db)).toEqual([]);
  });

  it('retries a job after a handler error, with backoff, and deletes its row once done', async () => {
    const calls: Array<{ attempt: number; at: number }> = [];
    const handler: JobHandler<{ n: number }> = {
      kind: 'flaky',
      maxAttempts: 5,
      async run(_p, job) {
        calls.push({ attempt: job.attempt, at: Date.now() });
        if (job.attempt < 3) throw new Error(`boom ${job.attempt}`);
      },
    };
    const id = (await enqueueJob(t.db, { kind: 'flaky', payload: { n: 1 }, maxAttempts: 5 }))!;
    startJobs([handler], 100);
    await waitFor('the flaky job to finish', async () => (await getJob(t.db, id)) === null, 20_000, 25);
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    // Exponential backoff: at least 100 ms, then 200 ms, between attempts.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(90);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(190);
  });

  it('gives a job up after its last attempt: the row stays FAILED with the reason, and the handler reports it', async () => {
    const gaveUp: string[] = [];
    const handler: JobHandler = {
      kind: 'doomed',
      maxAttempts: 2,
      async run() {
        throw new Error('disk on fire');
      },
      async onGiveUp(_p, e) {
        gaveUp.push(e.message);
      },
    };
    const id = (await enqueueJob(t.db, { kind: 'doomed', payload: {}, dedupeKey: 'doomed-1', maxAttempts: 2 }))!;
    startJobs([handler]);
    await waitFor('the job to be given up', async () => (await getJob(t.db, id))?.state === 'FAILED', 20_000, 25);
    expect(await getJob(t.db, id)).toMatchObject({ state: 'FAILED', attempts: 2, lastError: 'disk on fire' });
    expect(gaveUp).toEqual(['disk on fire']);
    // A failed job no longer holds its key: asking again (a retry) writes a new intent.
    expect(await enqueueJob(t.db, { kind: 'doomed', payload: {}, dedupeKey: 'doomed-1' })).not.toBeNull();
  });

  it('runs a job again in the next master when the one that ran it died mid-way', async () => {
    let firstStarted = false;
    const hang: JobHandler = {
      kind: 'work',
      maxAttempts: 3,
      run: () => {
        firstStarted = true;
        return new Promise<void>(() => undefined); // never finishes: the master "dies" here
      },
    };
    const id = (await enqueueJob(t.db, { kind: 'work', payload: {} }))!;
    const first = startJobs([hang]);
    await waitFor('the first master to start the job', async () => firstStarted, 10_000, 25);
    await first.relay.stop(); // it stops looking, as a killed master would; its handler never returns
    stops.splice(stops.indexOf(first.stop), 1);
    expect(await getJob(t.db, id)).toMatchObject({ state: 'PENDING', attempts: 0 });
    const done: number[] = [];
    startJobs([{ kind: 'work', maxAttempts: 3, run: async (_p, job) => void done.push(job.attempt) }]);
    await waitFor('the next master to finish the job', async () => (await getJob(t.db, id)) === null, 10_000, 25);
    expect(done).toEqual([1]);
  });

  it('deletes an experiment: checkpoint files first (missing ones count as deleted), then its rows', async () => {
    const store = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-jobs-store-'));
    const storage = (hostPath: string): CheckpointStorageConfig => ({ type: 'shared_fs', host_path: hostPath, save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 });
    const { experimentId, trialId } = await addExperimentWithTrial(t.db, { state: 'COMPLETED' });
    const present = randomUUID();
    const missing = randomUUID();
    fs.mkdirSync(path.join(store, present));
    fs.writeFileSync(path.join(store, present, 'state.json'), '{}');
    for (const uuid of [present, missing]) {
      await insertCheckpoint(t.db, { uuid, trialId, experimentId, allocationId: 'a', stepsCompleted: 1, storage: storage(store), resources: {}, metadata: {} });
    }
    await insertLogs(t.db, trialId, [{ allocationId: null, agentId: null, rank: 0, stream: 'stdout', level: 'INFO', ts: null, line: 'hello' }]);
    await t.db.query(`UPDATE experiments SET state = 'DELETING' WHERE id = $1`, [experimentId]);
    const handler = deleteExperimentHandler({ db: t.db, bus: new EventBus(), checkpointDir: store });
    await handler.run({ experimentId }, { id: null, attempt: 1 });
    expect(fs.existsSync(path.join(store, present))).toBe(false);
    expect(await getExperimentSummary(t.db, experimentId)).toBeNull();
    for (const [table, column] of [['trials', 'id'], ['checkpoints', 'trial_id'], ['task_logs', 'trial_id'], ['metrics', 'trial_id'], ['allocations', 'trial_id']]) {
      const r = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [trialId]);
      expect(r.rows[0]!.n, table).toBe(0);
    }
    // Run again (a master killed after the transaction): nothing left to do, and no error.
    await handler.run({ experimentId }, { id: null, attempt: 2 });
  });

  it('keeps the rows while a checkpoint cannot be deleted, and reports DELETE_FAILED with why', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-jobs-store-'));
    // The storage path is a file where a directory should be: no file under it can be deleted (even by root).
    const broken = path.join(base, 'not-a-dir');
    fs.writeFileSync(broken, 'x');
    const { experimentId, trialId } = await addExperimentWithTrial(t.db, { state: 'COMPLETED' });
    const uuid = randomUUID();
    await insertCheckpoint(t.db, {
      uuid, trialId, experimentId, allocationId: 'a', stepsCompleted: 1, resources: {}, metadata: {},
      storage: { type: 'shared_fs', host_path: broken, save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 },
    });
    const bus = new EventBus();
    const controller = new ExperimentController(t.db, bus, async () => undefined);
    await controller.requestDeletion(experimentId, 'admin');
    expect((await getExperimentSummary(t.db, experimentId))!.state).toBe('DELETING');
    startJobs([deleteExperimentHandler({ db: t.db, bus, checkpointDir: base })]);
    await waitFor('DELETE_FAILED', async () => (await getExperimentSummary(t.db, experimentId))?.state === 'DELETE_FAILED', 20_000, 25);
    const failed = (await getExperimentSummary(t.db, experimentId))!;
    expect(failed.deleteError).toMatch(new RegExp(`checkpoint ${uuid}: .*ENOTDIR`));
    expect((await t.db.query('SELECT 1 FROM checkpoints WHERE uuid = $1', [uuid])).rows).toHaveLength(1);
    // Mend the storage and ask again: the retry deletes everything.
    fs.rmSync(broken);
    await controller.requestDeletion(experimentId, 'admin');
    await waitFor('the experiment to be gone', async () => (await getExperimentSummary(t.db, experimentId)) === null, 20_000, 25);
  });

  it('refuses to delete an experiment that has not ended, naming its state', async () => {
    const { experimentId } = await addExperimentWithTrial(t.db, { state: 'PAUSED' });
    const controller = new ExperimentController(t.db, new EventBus(), async () => undefined);
    await expect(controller.requestDeletion(experimentId, 'admin')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('is PAUSED') });
    expect(await listJobs(t.db)).toEqual([]);
  });

  it('log retention deletes the lines older than the retention and keeps the rest', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    const old = new Date(Date.now() - 10 * 86400_000).toISOString();
    const line = (text: string, ts: string | null) => ({ allocationId: null, agentId: null, rank: 0, stream: 'stdout', level: 'INFO', ts, line: text });
    await insertLogs(t.db, trialId, [line('ten days old', old), line('fresh', null)]);
    await logRetentionHandler({ db: t.db, log }).run({ days: 7 }, { id: null, attempt: 1 });
    expect((await tailLogs(t.db, trialId, 10)).map((l) => l.line)).toEqual(['fresh']);
  });

  it('runs log retention periodically in the in-process queue', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    const old = new Date(Date.now() - 3 * 86400_000).toISOString();
    const { queue } = startJobs([logRetentionHandler({ db: t.db, log })]);
    await queue.repeat('log-retention', 200, 'logRetention', { days: 1 });
    await insertLogs(t.db, trialId, [{ allocationId: null, agentId: null, rank: 0, stream: 'stdout', level: 'INFO', ts: old, line: 'old' }]);
    await waitFor('the old line to go', async () => (await tailLogs(t.db, trialId, 10)).length === 0, 10_000, 50);
  });

  it('finds the webhooks of a state change by trigger and experiment', async () => {
    const { experimentId } = await addExperimentWithTrial(t.db);
    const { experimentId: other } = await addExperimentWithTrial(t.db);
    const all = await insertWebhook(t.db, { url: 'http://a', triggers: ['COMPLETED', 'ERROR'], experimentId: null, secret: 's', owner: 'admin' });
    const mine = await insertWebhook(t.db, { url: 'http://b', triggers: ['COMPLETED'], experimentId, secret: 's', owner: 'admin' });
    await insertWebhook(t.db, { url: 'http://c', triggers: ['COMPLETED'], experimentId: other, secret: 's', owner: 'admin' });
    expect((await webhooksFor(t.db, experimentId, 'COMPLETED')).map((w) => w.id)).toEqual([all.id, mine.id]);
    expect((await webhooksFor(t.db, experimentId, 'ERROR')).map((w) => w.id)).toEqual([all.id]);
    expect(await webhooksFor(t.db, experimentId, 'CANCELED')).toEqual([]);
  });
});
