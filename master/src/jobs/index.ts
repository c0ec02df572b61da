// The background job system: handlers, the runner, a queue (BullMQ on Redis when a URL is given, else in-process)
// and the outbox relay between the database and the queue. Built by the composition root (server.ts).
import type { Logger } from 'pino';
import type { Database } from '../db';
import { jobsWrittenCount } from '../db/jobs';
import type { EventBus } from '../events';
import { BullmqQueue } from './bullmqQueue';
import { checkpointGcHandler } from './handlers/checkpointGc';
import { DB_UPKEEP, dbUpkeepHandler } from './handlers/dbUpkeep';
import { deleteExperimentHandler } from './handlers/deleteExperiment';
import { LOG_RETENTION, logRetentionHandler } from './handlers/logRetention';
import { webhookDeliveryHandler } from './handlers/webhookDelivery';
import { InProcessQueue } from './inProcessQueue';
import type { JobQueue } from './queue';
import { JobRelay } from './relay';
import { JobRunner } from './runner';

/** How often the embedded database's tables are checked for vacuuming (autovacuum's naptime is 1 minute). */
export const DB_UPKEEP_INTERVAL_MS = 60_000;

export interface JobSystemOptions {
  redisUrl?: string;
  /** BullMQ key prefix in Redis. */
  redisPrefix: string;
  /** Delete task log lines older than this many days; unset keeps them. */
  logRetentionDays?: number;
  logRetentionIntervalMs: number;
  /** Base of the exponential backoff between attempts of a job. */
  retryBaseMs: number;
  pollMs: number;
}

export interface JobSystem {
  queue: JobQueue;
  relay: JobRelay;
  runner: JobRunner;
  close(): Promise<void>;
}

export async function startJobSystem(deps: { db: Database; bus: EventBus; checkpointDir: string; log: Logger }, opts: JobSystemOptions): Promise<JobSystem> {
  const runner = new JobRunner(
    deps.db,
    [checkpointGcHandler(deps), deleteExperimentHandler(deps), logRetentionHandler(deps), webhookDeliveryHandler(deps), dbUpkeepHandler(deps)],
    deps.log,
    opts.retryBaseMs,
  );
  const queue: JobQueue = opts.redisUrl
    ? new BullmqQueue(runner, deps.log, { url: opts.redisUrl, prefix: opts.redisPrefix, queueName: 'jobs' })
    : new InProcessQueue(runner, deps.log);
  await queue.start();
  const relay = new JobRelay(deps.db, queue, deps.log, opts.pollMs);
  relay.start();
  if (opts.logRetentionDays !== undefined) await queue.repeat('log-retention', opts.logRetentionIntervalMs, LOG_RETENTION, { days: opts.logRetentionDays });
  // The embedded database has no autovacuum: the master does its work (db/maintenance.ts).
  if (deps.db.kind === 'pglite') await queue.repeat('db-upkeep', DB_UPKEEP_INTERVAL_MS, DB_UPKEEP, {});
  // A change that wrote a job publishes an event after its commit: look for the job at once (only when this
  // process wrote one since the last look; the relay's own poll finds the rest).
  let seen = jobsWrittenCount();
  const unsubscribe = deps.bus.subscribe((e) => {
    if ((e.type === 'experiment' || e.type === 'cluster') && jobsWrittenCount() !== seen) {
      seen = jobsWrittenCount();
      relay.kick();
    }
  });
  deps.log.info({ queue: queue.kind, ...(opts.logRetentionDays !== undefined ? { logRetentionDays: opts.logRetentionDays } : {}) }, 'background jobs ready');
  return {
    queue,
    relay,
    runner,
    async close() {
      unsubscribe();
      await relay.stop();
      await queue.close();
    },
  };
}
