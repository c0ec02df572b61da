// What a forecast's --profile reads of a trial that already ran: its runs (when each was requested, started and
// ended, and when the slot it ran on was last freed before it), its training and validation reports' times, its
// checkpoints' times, and what in its experiment could have triggered each run's request. Read-only; the
// arithmetic on these timestamps is pure (provisioner/forecast.ts, profileFromTrial).
import type { Queryable } from './database';

export interface TrialTimingRun {
  /** When the run was requested (its allocation created, pending). */
  createdAt: number;
  /** When its agent reported the harness started. */
  startedAt: number;
  endedAt: number | null;
  /** When the slot(s) it ran on were last freed by another allocation before it started (null: first on them). */
  slotFreedAt: number | null;
  /**
   * The latest event of its experiment at or before its request that could have caused it: the experiment's
   * submission, another run's end, or a validation report. createdAt minus this is the master's reaction time.
   */
  triggerAt: number;
}

export interface TrialTiming {
  trialId: number;
  experimentId: number;
  completedLength: number;
  totalBatches: number;
  /** Runs, oldest first. */
  allocations: TrialTimingRun[];
  /** Training and validation reports (superseded ones left out): steps, ms since epoch, oldest first. */
  reports: Array<{ steps: number; at: number; group: 'training' | 'validation' }>;
  /** Checkpoints registered: steps, ms since epoch, oldest first. */
  checkpoints: Array<{ steps: number; at: number }>;
}

const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : new Date(String(v)).getTime());
const msOrNull = (v: unknown): number | null => (v == null ? null : ms(v));

type Placement = Array<{ agentId: string; devices: number[] }>;

function overlaps(a: Placement, b: Placement): boolean {
  return a.some((p) => b.some((q) => q.agentId === p.agentId && q.devices.some((d) => p.devices.includes(d))));
}

export async function trialTiming(q: Queryable, trialId: number): Promise<TrialTiming | null> {
  const t = await q.query<{ experiment_id: number; completed_length: number; total_batches: number; exp_start: unknown }>(
    'SELECT t.experiment_id, t.completed_length, t.total_batches, e.start_time AS exp_start FROM trials t JOIN experiments e ON e.id = t.experiment_id WHERE t.id = $1',
    [trialId],
  );
  const row = t.rows[0];
  if (!row) return null;
  const experimentId = Number(row.experiment_id);
  const expStart = ms(row.exp_start);
  const a = await q.query<{ id: string; placement: Placement | string | null; created_at: unknown; started_at: unknown; ended_at: unknown }>(
    'SELECT id, placement, created_at, started_at, ended_at FROM allocations WHERE trial_id = $1 AND started_at IS NOT NULL ORDER BY started_at',
    [trialId],
  );
  const allocations: TrialTimingRun[] = [];
  for (const r of a.rows) {
    const placement: Placement = typeof r.placement === 'string' ? JSON.parse(r.placement) : (r.placement ?? []);
    const createdAt = ms(r.created_at);
    const startedAt = ms(r.started_at);
    let slotFreedAt: number | null = null;
    for (const agentId of new Set(placement.map((p) => p.agentId))) {
      const before = await q.query<{ placement: Placement | string; ended_at: unknown }>(
        `SELECT placement, ended_at FROM allocations WHERE id <> $1 AND ended_at IS NOT NULL AND ended_at <= $2 AND placement @> $3::jsonb ORDER BY ended_at DESC LIMIT 100`,
        [r.id, new Date(startedAt), JSON.stringify([{ agentId }])],
      );
      for (const b of before.rows) {
        const bp: Placement = typeof b.placement === 'string' ? JSON.parse(b.placement) : b.placement;
        if (overlaps(placement, bp)) {
          slotFreedAt = Math.max(slotFreedAt ?? -Infinity, ms(b.ended_at));
          break;
        }
      }
    }
    const ended = await q.query<{ at: unknown }>('SELECT max(ended_at) AS at FROM allocations WHERE experiment_id = $1 AND id <> $2 AND ended_at <= $3', [experimentId, r.id, new Date(createdAt)]);
    const validated = await q.query<{ at: unknown }>(
      `SELECT max(m.reported_at) AS at FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.experiment_id = $1 AND m.grp = 'validation' AND m.reported_at <= $2`,
      [experimentId, new Date(createdAt)],
    );
    const triggerAt = Math.max(expStart, msOrNull(ended.rows[0]?.at) ?? -Infinity, msOrNull(validated.rows[0]?.at) ?? -Infinity);
    allocations.push({ createdAt, startedAt, endedAt: msOrNull(r.ended_at), slotFreedAt, triggerAt: Math.min(triggerAt, createdAt) });
  }
  const m = await q.query<{ steps_completed: number; reported_at: unknown; grp: string }>(
    `SELECT steps_completed, reported_at, grp FROM metrics WHERE trial_id = $1 AND NOT superseded ORDER BY reported_at, id`,
    [trialId],
  );
  const c = await q.query<{ steps_completed: number; reported_at: unknown }>('SELECT steps_completed, reported_at FROM checkpoints WHERE trial_id = $1 ORDER BY reported_at', [trialId]);
  return {
    trialId,
    experimentId,
    completedLength: Number(row.completed_length),
    totalBatches: Number(row.total_batches),
    allocations,
    reports: m.rows.map((r) => ({ steps: Number(r.steps_completed), at: ms(r.reported_at), group: r.grp === 'validation' ? 'validation' : 'training' })),
    checkpoints: c.rows.map((r) => ({ steps: Number(r.steps_completed), at: ms(r.reported_at) })),
  };
}
