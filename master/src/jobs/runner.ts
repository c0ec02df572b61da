// Runs one outbox job by id, the same way in either queue: read the row, run its handler, then delete the row
// (done) or count the failed attempt (retry later, or give up after the last). The row is the truth: a job whose
// row is gone or FAILED is not run again, whoever hands it over, so a repeated hand-over is harmless.
import type { Logger } from 'pino';
import type { Database } from '../db';
import { completeJob, getJob, recordJobFailure } from '../db/jobs';
import { backoffMs, type AnyJobHandler } from './types';

export type JobOutcome = 'done' | 'retry' | 'failed' | 'gone';

export class JobRunner {
  private readonly handlers = new Map<string, AnyJobHandler>();

  constructor(
    private readonly db: Database,
    handlers: AnyJobHandler[],
    private readonly log: Logger,
    /** Base of the exponential backoff between attempts. */
    readonly retryBaseMs: number,
  ) {
    for (const h of handlers) this.handlers.set(h.kind, h);
  }

  handler(kind: string): AnyJobHandler | undefined {
    return this.handlers.get(kind);
  }

  /** Runs outbox job `id` once. Database errors reading or settling the row throw (the caller retries). */
  async execute(id: number): Promise<JobOutcome> {
    const job = await getJob(this.db, id);
    if (!job || job.state !== 'PENDING') return 'gone';
    const attempt = job.attempts + 1;
    const h = this.handlers.get(job.kind);
    let error: Error;
    try {
      if (!h) throw new Error(`no handler for job kind "${job.kind}"`);
      await h.run(job.payload, { id, attempt });
      await completeJob(this.db, id);
      this.log.debug({ job: id, kind: job.kind, attempt }, 'job done');
      return 'done';
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
    }
    const final = attempt >= job.maxAttempts || !h;
    await recordJobFailure(this.db, id, error.message, attempt, final ? null : backoffMs(attempt, this.retryBaseMs));
    if (!final) {
      this.log.warn({ job: id, kind: job.kind, attempt, err: error.message }, 'job failed; it will be retried');
      return 'retry';
    }
    this.log.error({ job: id, kind: job.kind, attempt, err: error.message }, 'job failed for the last time');
    await h?.onGiveUp?.(job.payload, error);
    return 'failed';
  }

  /** Runs a periodic job (no outbox row: the next period runs it again); throws when the handler does. */
  async executeDirect(kind: string, payload: Record<string, unknown>, attempt: number): Promise<void> {
    const h = this.handlers.get(kind);
    if (!h) throw new Error(`no handler for job kind "${kind}"`);
    await h.run(payload, { id: null, attempt });
  }
}
