// The contract of a background job: a kind, a JSON payload, and a handler that must be idempotent (a job may run
// again after a crash, a stalled worker or a retry, and must then finish the work or find it done).

export interface JobHandler<P = Record<string, unknown>> {
  readonly kind: string;
  /** Attempts before the job is given up (the first run counts). */
  readonly maxAttempts: number;
  /** Does the work; throws to have the job retried with backoff. `attempt` counts from 1. */
  run(payload: P, job: { id: number | null; attempt: number }): Promise<void>;
  /** After the last attempt failed: record the failure where the user sees it. */
  onGiveUp?(payload: P, error: Error): Promise<void>;
}

export type AnyJobHandler = JobHandler<any>;

/** Delay before attempt `attempt + 1` after attempt `attempt` failed: base, 2 base, 4 base... capped at 5 minutes. */
export function backoffMs(attempt: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), 5 * 60_000);
}
