// Jobs repository (the outbox): the only code that reads or writes `jobs`. A job is written with the change that
// causes it (same transaction), and deleted only once its handler has finished.
import type { Queryable } from './database';
import { iso } from './sql';

export interface JobRow {
  id: number;
  kind: string;
  payload: Record<string, unknown>;
  dedupeKey: string | null;
  state: 'PENDING' | 'FAILED';
  attempts: number;
  maxAttempts: number;
  runAfter: string;
  lastError: string | null;
  createdAt: string;
}

function toJob(r: any): JobRow {
  return {
    id: Number(r.id),
    kind: r.kind,
    payload: r.payload ?? {},
    dedupeKey: r.dedupe_key ?? null,
    state: r.state,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    runAfter: iso(r.run_after),
    lastError: r.last_error ?? null,
    createdAt: iso(r.created_at),
  };
}

export interface NewJob {
  kind: string;
  payload: Record<string, unknown>;
  /** At most one pending job per key: a second enqueue with the same key is a no-op. */
  dedupeKey?: string;
  maxAttempts?: number;
}

let jobsWritten = 0;
/** How many jobs this process has written (a change in it after a commit: the relay has something to look for). */
export function jobsWrittenCount(): number {
  return jobsWritten;
}

/** Writes a job's intent; returns its id, or null when a pending job with the same key already exists. */
export async function enqueueJob(q: Queryable, j: NewJob): Promise<number | null> {
  const r = await q.query<{ id: number }>(
    `INSERT INTO jobs (kind, payload, dedupe_key, max_attempts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id`,
    [j.kind, JSON.stringify(j.payload), j.dedupeKey ?? null, j.maxAttempts ?? 10],
  );
  if (r.rows[0]) jobsWritten++;
  return r.rows[0] ? Number(r.rows[0].id) : null;
}

export async function getJob(q: Queryable, id: number): Promise<JobRow | null> {
  const r = await q.query('SELECT * FROM jobs WHERE id = $1', [id]);
  return r.rows[0] ? toJob(r.rows[0]) : null;
}

/** Pending jobs, oldest first: only those whose time has come with `dueOnly`. */
export async function listPendingJobs(q: Queryable, opts: { dueOnly: boolean; limit: number }): Promise<JobRow[]> {
  const r = await q.query(
    `SELECT * FROM jobs WHERE state = 'PENDING'${opts.dueOnly ? ' AND run_after <= now()' : ''} ORDER BY id LIMIT ${Math.trunc(opts.limit)}`,
  );
  return r.rows.map(toJob);
}

/** Jobs of a kind (tests and the record), oldest first. */
export async function listJobs(q: Queryable, kind?: string): Promise<JobRow[]> {
  const r = kind ? await q.query('SELECT * FROM jobs WHERE kind = $1 ORDER BY id', [kind]) : await q.query('SELECT * FROM jobs ORDER BY id');
  return r.rows.map(toJob);
}

/** The job is done: its row goes. */
export async function completeJob(q: Queryable, id: number): Promise<void> {
  await q.query('DELETE FROM jobs WHERE id = $1', [id]);
}

/**
 * One attempt failed: count it and note why. `retryInMs` null means no attempt is left: the job is FAILED
 * (kept for the record, and no longer blocks a new job with its key).
 */
export async function recordJobFailure(q: Queryable, id: number, error: string, attempts: number, retryInMs: number | null): Promise<void> {
  await q.query(
    `UPDATE jobs SET attempts = $2, last_error = $3, updated_at = now(),
       ${retryInMs === null ? `state = 'FAILED'` : `run_after = now() + ($4::float8 * interval '1 millisecond')`} WHERE id = $1`,
    retryInMs === null ? [id, attempts, error.slice(0, 2000)] : [id, attempts, error.slice(0, 2000), retryInMs],
  );
}
