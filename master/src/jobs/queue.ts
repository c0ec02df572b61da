// The seam between the outbox and whatever runs its jobs. Two implementations: `InProcessQueue` (the embedded
// mode: the master runs the jobs itself, retrying by the row's run_after) and `BullmqQueue` (Redis: BullMQ keeps
// the queue, its workers run the jobs, retries and recovers jobs whose worker died). Both run jobs through the
// same `JobRunner`, so a job behaves the same in either.
import type { JobRow } from '../db/jobs';

export interface JobQueue {
  readonly kind: 'in-process' | 'bullmq';
  start(): Promise<void>;
  /**
   * Takes over pending outbox jobs that are due. Called by the relay on every poll with what it found, so an
   * implementation must ignore a job it already holds (by the outbox id).
   */
  handOver(jobs: JobRow[]): Promise<void>;
  /** Runs `kind` every `everyMs` (first run soon after start), for periodic upkeep such as log retention. */
  repeat(name: string, everyMs: number, kind: string, payload: Record<string, unknown>): Promise<void>;
  /** Stops taking jobs; waits for the ones running (up to a short while). */
  close(): Promise<void>;
}
