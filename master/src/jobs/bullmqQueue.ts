// The Redis mode's queue: outbox jobs become BullMQ jobs (job id `outbox-<row id>`, so handing one over twice adds
// it once), run by a BullMQ worker in this master with exponential backoff between attempts. A master killed
// mid-job leaves it active with an expiring lock; BullMQ's stalled-job check gives it to the next worker. The
// outbox row stays the truth: the runner decides from it whether there is anything left to do.
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { JobRow } from '../db/jobs';
import type { JobQueue } from './queue';
import type { JobRunner } from './runner';

export interface BullmqOptions {
  url: string;
  /** Key prefix in Redis (one per cluster, or per test). */
  prefix: string;
  queueName: string;
  concurrency?: number;
  /** How long a worker's lock on a job lasts unrenewed: after a crash, the job runs again this long later. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

type Data = { outboxId: number } | { periodic: true; kind: string; payload: Record<string, unknown> };

/** Redis refuses to answer for this long at start-up: the master says so instead of waiting forever. */
const CONNECT_TIMEOUT_MS = 10_000;

export class BullmqQueue implements JobQueue {
  readonly kind = 'bullmq' as const;
  private queue?: Queue<Data>;
  private worker?: Worker<Data>;
  private readonly connections: Redis[] = [];
  /** Outbox ids handed over lately (not re-sent on every poll; re-sent after a while in case Redis lost them). */
  private readonly handed = new Map<number, number>();

  constructor(
    private readonly runner: JobRunner,
    private readonly log: Logger,
    private readonly opts: BullmqOptions,
  ) {}

  private connect(): Redis {
    const c = new Redis(this.opts.url, { maxRetriesPerRequest: null, lazyConnect: false });
    c.on('error', (e) => this.log.warn({ err: e.message }, 'redis connection error'));
    this.connections.push(c);
    return c;
  }

  async start(): Promise<void> {
    const { prefix, queueName } = this.opts;
    this.queue = new Queue<Data>(queueName, { connection: this.connect(), prefix });
    this.queue.on('error', (e) => this.log.warn({ err: e.message }, 'job queue error'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.queue.waitUntilReady(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`cannot reach Redis at ${redact(this.opts.url)} (--redis-url, HONE_REDIS_URL)`)), CONNECT_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    this.worker = new Worker<Data>(queueName, (job) => this.process(job), {
      connection: this.connect(),
      prefix,
      concurrency: this.opts.concurrency ?? 2,
      lockDuration: this.opts.lockDurationMs ?? 15_000,
      stalledInterval: this.opts.stalledIntervalMs ?? 5_000,
      maxStalledCount: 3,
    });
    this.worker.on('error', (e) => this.log.warn({ err: e.message }, 'job worker error'));
    this.worker.on('completed', (job) => {
      if ('outboxId' in job.data) this.handed.delete(job.data.outboxId);
    });
    this.worker.on('failed', (job) => {
      if (job && 'outboxId' in job.data) this.handed.delete(job.data.outboxId);
    });
  }

  private async process(job: Job<Data>): Promise<void> {
    const d = job.data;
    if ('periodic' in d) return this.runner.executeDirect(d.kind, d.payload, job.attemptsMade + 1);
    const outcome = await this.runner.execute(d.outboxId);
    // BullMQ schedules the next attempt after its backoff; the row has counted this one.
    if (outcome === 'retry') throw new Error(`job ${d.outboxId} failed; retrying`);
  }

  async handOver(jobs: JobRow[]): Promise<void> {
    if (!this.queue) return;
    const now = Date.now();
    const fresh = jobs.filter((j) => now - (this.handed.get(j.id) ?? 0) > 30_000);
    if (!fresh.length) return;
    await this.queue.addBulk(
      fresh.map((j) => ({
        name: j.kind,
        data: { outboxId: j.id },
        opts: {
          jobId: `outbox-${j.id}`,
          // The row decides when to give up; a few more here ride out a database that failed to answer.
          attempts: j.maxAttempts - j.attempts + 3,
          backoff: { type: 'exponential', delay: this.runner.retryBaseMs },
          removeOnComplete: true,
          removeOnFail: true,
        },
      })),
    );
    for (const j of fresh) this.handed.set(j.id, now);
  }

  async repeat(name: string, everyMs: number, kind: string, payload: Record<string, unknown>): Promise<void> {
    await this.queue!.upsertJobScheduler(
      name,
      { every: everyMs },
      { name: 'periodic', data: { periodic: true, kind, payload }, opts: { attempts: 3, backoff: { type: 'exponential', delay: this.runner.retryBaseMs }, removeOnComplete: true, removeOnFail: true } },
    );
  }

  async close(): Promise<void> {
    // A job cut short here keeps its outbox row; BullMQ (stalled check) or the relay gives it out again.
    await Promise.race([this.worker?.close(), new Promise((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    for (const c of this.connections) c.disconnect();
  }
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the given URL';
  }
}
