// The outbox relay: finds pending jobs whose time has come and hands them to the queue. It polls (a job written
// by any transaction is found within a poll) and can be kicked to look at once. A failed poll (the database
// is down) is logged and tried again at the next one.
import type { Logger } from 'pino';
import type { Database } from '../db';
import { listPendingJobs } from '../db/jobs';
import type { JobQueue } from './queue';

export class JobRelay {
  private timer?: NodeJS.Timeout;
  private polling: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly db: Database,
    private readonly queue: JobQueue,
    private readonly log: Logger,
    private readonly pollMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due jobs now (after a transaction that wrote one, say). */
  kick(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = this.poll().finally(() => {
      this.polling = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async poll(): Promise<void> {
    try {
      const due = await listPendingJobs(this.db, { dueOnly: true, limit: 100 });
      if (due.length) await this.queue.handOver(due);
      if (this.failing) this.log.info('job relay recovered');
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.log.warn({ err: (e as Error).message }, 'job relay could not read or hand over jobs; retrying');
      this.failing = true;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    // A hand-over waiting for an unreachable Redis must not hold up the master's shutdown.
    await Promise.race([this.polling, new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}
