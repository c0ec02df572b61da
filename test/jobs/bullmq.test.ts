// The BullMQ queue on the real Redis (a key prefix of its own per test): outbox jobs handed over once however
// often the relay finds them, retried with exponential backoff after a handler error, given up after the last
// attempt with the reason on the row; periodic jobs run as BullMQ job schedulers.
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/src/db/database';
import { enqueueJob, getJob, listPendingJobs } from '../../master/src/db/jobs';
import { BullmqQueue } from '../../master/src/jobs/bullmqQueue';
import { JobRelay } from '../../master/src/jobs/relay';
import { JobRunner } from '../../master/src/jobs/runner';
import type { JobHandler } from '../../master/src/jobs/types';
import { waitFor } from '../helpers/processes';
import { dropRedisPrefix, REDIS_URL, redisAvailable, redisPrefix } from '../helpers/services';

const hasRedis = await redisAvailable();
const log = pino({ level: 'silent' });

describe.skipIf(!hasRedis)('BullMQ job queue (real Redis)', () => {
  let db: Database;
  const stops: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    db = await openDatabase({ memory: true });
  });
  afterAll(async () => {
    await db.close();
  });
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  async function startJobs(name: string, handlers: JobHandler<any>[], retryBaseMs = 100) {
    const prefix = redisPrefix(name);
    const runner = new JobRunner(db, handlers, log, retryBaseMs);
    const queue = new BullmqQueue(runner, log, { url: REDIS_URL, prefix, queueName: 'jobs' });
    await queue.start();
    const relay = new JobRelay(db, queue, log, 50);
    relay.start();
    stops.push(async () => {
      await relay.stop();
      await queue.close();
      await dropRedisPrefix(prefix);
    });
    return { queue, relay, prefix };
  }

  it('retries a job after a handler error, with backoff, and deletes its row once done', async () => {
    const calls: Array<{ attempt: number; at: number }> = [];
    const kind = `flaky-${Date.now()}`;
    const handler: JobHandler = {
      kind,
      maxAttempts: 5,
      async run(_p, job) {
        calls.push({ attempt: job.attempt, at: Date.now() });
        if (job.attempt < 3) throw new Error(`boom ${job.attempt}`);
      },
    };
    const id = (await enqueueJob(db, { kind, payload: {}, maxAttempts: 5 }))!;
    await startJobs('retry', [handler], 200);
    await waitFor('the flaky job to finish', async () => (await getJob(db, id)) === null, 30_000, 50);
    // Handed over on every poll while pending, it still ran once per attempt.
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(180);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(380);
  });

  it('gives a job up after its last attempt, with the reason on its row', async () => {
    const kind = `doomed-${Date.now()}`;
    const gaveUp: string[] = [];
    const handler: JobHandler = {
      kind,
      maxAttempts: 2,
      async run() {
        throw new Error('receiver said 500');
      },
      async onGiveUp(_p, e) {
        gaveUp.push(e.message);
      },
    };
    const id = (await enqueueJob(db, { kind, payload: {}, maxAttempts: 2 }))!;
    await startJobs('giveup', [handler], 50);
    await waitFor('the job to be given up', async () => (await getJob(db, id))?.state === 'FAILED', 30_000, 50);
    expect(await getJob(db, id)).toMatchObject({ state: 'FAILED', attempts: 2, lastError: 'receiver said 500' });
    expect(gaveUp).toEqual(['receiver said 500']);
    expect((await listPendingJobs(db, { dueOnly: false, limit: 100 })).filter((j) => j.kind === kind)).toEqual([]);
  });

  it('runs a periodic job as a BullMQ job scheduler', async () => {
    const kind = `tick-${Date.now()}`;
    let runs = 0;
    const { queue } = await startJobs('repeat', [{ kind, maxAttempts: 1, run: async () => void runs++ }]);
    await queue.repeat('tick', 300, kind, {});
    await waitFor('two periodic runs', async () => runs >= 2, 20_000, 50);
  });
});
