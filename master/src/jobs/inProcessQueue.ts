// The embedded mode's queue: the master runs outbox jobs itself, a few at a time. A failed attempt pushes the
// row's run_after back (the runner does), so the relay hands the job over again when its backoff has passed; a
// master killed mid-job leaves the row PENDING, and the next master runs it.
import type { Logger } from 'pino';
import type { JobRow } from '../db/jobs';
import type { JobQueue } from './queue';
import type { JobRunner } from './runner';
import { backoffMs } from './types';

export class InProcessQueue implements JobQueue {
  readonly kind = 'in-process' as const;
  private readonly running = new Map<number, Promise<void>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly runner: JobRunner,
    private readonly log: Logger,
    private readonly concurrency = 4,
  ) {}

  async start(): Promise<void> {}

  async handOver(jobs: JobRow[]): Promise<void> {
    for (const job of jobs) {
      if (this.closed || this.running.size >= this.concurrency) return;
      if (this.running.has(job.id)) continue;
      const p = this.runner
        .execute(job.id)
        .then(() => undefined)
        // The database failed us (reading or settling the row): the row is still PENDING; a later poll retries.
        .catch((e) => this.log.warn({ job: job.id, kind: job.kind, err: (e as Error).message }, 'job could not be run; will try again'))
        .finally(() => this.running.delete(job.id));
      this.running.set(job.id, p);
    }
  }

  async repeat(name: string, everyMs: number, kind: string, payload: Record<string, unknown>): Promise<void> {
    let busy = false;
    const tick = async () => {
      if (busy || this.closed) return;
      busy = true;
      try {
        for (let attempt = 1; attempt <= 3 && !this.closed; attempt++) {
          try {
            await this.runner.executeDirect(kind, payload, attempt);
            return;
          } catch (e) {
            this.log.warn({ job: name, attempt, err: (e as Error).message }, 'periodic job failed');
            await new Promise((r) => setTimeout(r, backoffMs(attempt, this.runner.retryBaseMs)).unref());
          }
        }
      } finally {
        busy = false;
      }
    };
    this.timers.push(setTimeout(tick, 1000).unref(), setInterval(tick, everyMs).unref());
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    // A job cut short here is still PENDING: the next start runs it again.
    await Promise.race([Promise.allSettled([...this.running.values()]), new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}
