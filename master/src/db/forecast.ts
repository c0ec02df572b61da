// What a forecast's --profile reads of a trial that already ran: its allocations' start and end, its training
// reports' times, and the length it trained. Read-only.
import type { Queryable } from './database';

export interface TrialTiming {
  trialId: number;
  experimentId: number;
  completedLength: number;
  totalBatches: number;
  /** Runs, oldest first: when each was requested (pending), started running and ended. */
  allocations: Array<{ createdAt: number; startedAt: number; endedAt: number | null }>;
  /** Training and validation reports: (steps, ms since epoch), oldest first. */
  reports: Array<{ steps: number; at: number }>;
}

const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : new Date(String(v)).getTime());

export async function trialTiming(q: Queryable, trialId: number): Promise<TrialTiming | null> {
  const t = await q.query<{ experiment_id: number; completed_length: number; total_batches: number }>('SELECT experiment_id, completed_length, total_batches FROM trials WHERE id = $1', [trialId]);
  const row = t.rows[0];
  if (!row) return null;
  const a = await q.query<{ created_at: unknown; started_at: unknown; ended_at: unknown }>('SELECT created_at, started_at, ended_at FROM allocations WHERE trial_id = $1 AND started_at IS NOT NULL ORDER BY started_at', [trialId]);
  const m = await q.query<{ steps_completed: number; reported_at: unknown }>(`SELECT steps_completed, reported_at FROM metrics WHERE trial_id = $1 ORDER BY reported_at, id`, [trialId]);
  return {
    trialId,
    experimentId: Number(row.experiment_id),
    completedLength: Number(row.completed_length),
    totalBatches: Number(row.total_batches),
    allocations: a.rows.map((r) => ({ createdAt: ms(r.created_at), startedAt: ms(r.started_at), endedAt: r.ended_at == null ? null : ms(r.ended_at) })),
    reports: m.rows.map((r) => ({ steps: Number(r.steps_completed), at: ms(r.reported_at) })),
  };
}
