// Allocations repository: the only code that reads or writes `allocations`. An allocation is one attempt to
// run a trial: PENDING (waiting for slots) → ASSIGNED (placed, startTask sent) → RUNNING → TERMINATED.
// Requests to stop it are flags (preempt_requested, kill_requested) that the resource manager carries out.
import type { AllocationSummary } from '@hone/protocol';
import type { Placement } from '../scheduler/types';
import { afterCommit, type Queryable } from './database';
import { iso, isoOrNull } from './sql';

export type AllocationState = 'PENDING' | 'ASSIGNED' | 'RUNNING' | 'TERMINATING' | 'TERMINATED';

/**
 * Live allocation rows that a write may have changed: by id, or all of an experiment's or a trial's. Every
 * change to what `LiveAllocation` holds is announced, once it has committed: here for writes of this module, by
 * the experiments repository for the scheduling settings it joins in (`noteAllocationWrite`). A reader that
 * keeps a copy of the live rows (rm/liveAllocations.ts) reads back only what was announced.
 */
export interface AllocationWrite {
  ids?: string[];
  experimentId?: number;
  trialId?: number;
}

const writeListeners = new Set<(w: AllocationWrite) => void>();

/** Calls `fn` for every committed write of live allocation rows in this process; returns the unsubscribe. */
export function onAllocationWrite(fn: (w: AllocationWrite) => void): () => void {
  writeListeners.add(fn);
  return () => writeListeners.delete(fn);
}

/** Announces a write through `q` (once it has committed; see `AllocationWrite`). */
export function noteAllocationWrite(q: Queryable, w: AllocationWrite): void {
  if (!writeListeners.size) return;
  afterCommit(q, () => {
    for (const fn of writeListeners) fn(w);
  });
}

/** A live allocation with its experiment's scheduling settings: what one scheduling pass reads. */
export interface LiveAllocation {
  id: string;
  trialId: number;
  experimentId: number;
  state: Exclude<AllocationState, 'TERMINATED'>;
  slots: number;
  pool: string;
  placement: Placement[] | null;
  token: string;
  preemptRequested: boolean;
  killRequested: boolean;
  /** Submission order. */
  seq: number;
  createdAt: Date;
  priority: number;
  weight: number;
  maxSlots: number | null;
}

/** The identity a task token grants. */
export interface TaskIdentity {
  id: string;
  trial_id: number;
  experiment_id: number;
  state: AllocationState;
}

function toLive(r: any): LiveAllocation {
  return {
    id: r.id,
    trialId: Number(r.trial_id),
    experimentId: Number(r.experiment_id),
    state: r.state,
    slots: r.slots,
    pool: r.resource_pool,
    placement: r.placement ?? null,
    token: r.token,
    preemptRequested: r.preempt_requested,
    killRequested: r.kill_requested,
    seq: Number(r.seq),
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
    priority: r.priority,
    weight: r.weight,
    maxSlots: r.max_slots ?? null,
  };
}

/** An allocation with its experiment's scheduling settings, as `toLive` reads it. */
const LIVE_SELECT = `SELECT a.id, a.trial_id, a.experiment_id, a.state, a.slots, a.resource_pool, a.placement, a.token, a.preempt_requested,
            a.kill_requested, a.seq, a.created_at, e.priority, e.weight, e.max_slots
       FROM allocations a JOIN experiments e ON e.id = a.experiment_id`;

export interface NewAllocation {
  id: string;
  trialId: number;
  experimentId: number;
  slots: number;
  pool: string;
  token: string;
}

export async function insertPendingAllocation(q: Queryable, a: NewAllocation): Promise<void> {
  await q.query(`INSERT INTO allocations (id, trial_id, experiment_id, state, slots, resource_pool, token) VALUES ($1, $2, $3, 'PENDING', $4, $5, $6)`, [
    a.id,
    a.trialId,
    a.experimentId,
    a.slots,
    a.pool,
    a.token,
  ]);
  noteAllocationWrite(q, { ids: [a.id] });
}

/** Every allocation that has not terminated, in submission order. */
export async function listLiveAllocations(q: Queryable): Promise<LiveAllocation[]> {
  const r = await q.query(
    `${LIVE_SELECT} WHERE a.state <> 'TERMINATED' ORDER BY a.seq`,
  );
  return r.rows.map(toLive);
}

export async function getLiveAllocations(q: Queryable, ids: string[]): Promise<LiveAllocation[]> {
  if (!ids.length) return [];
  const r = await q.query(
    `${LIVE_SELECT} WHERE a.id = ANY($1) AND a.state <> 'TERMINATED' ORDER BY a.seq`,
    [ids],
  );
  return r.rows.map(toLive);
}

/**
 * The live rows among those a set of writes named (see `AllocationWrite`): by id, and every live allocation of
 * the experiments and trials named. A named row that is not returned has terminated or is gone.
 */
export async function getLiveAllocationsWritten(q: Queryable, w: { ids: string[]; experimentIds: number[]; trialIds: number[] }): Promise<LiveAllocation[]> {
  if (!w.experimentIds.length && !w.trialIds.length) return getLiveAllocations(q, w.ids);
  const r = await q.query(
    `${LIVE_SELECT} WHERE a.state <> 'TERMINATED' AND (a.id = ANY($1::text[]) OR a.experiment_id = ANY($2::bigint[]) OR a.trial_id = ANY($3::bigint[]))
      ORDER BY a.seq`,
    [w.ids, w.experimentIds, w.trialIds],
  );
  return r.rows.map(toLive);
}

/** PENDING → ASSIGNED with a placement; false when it was no longer pending (withdrawn meanwhile). */
export async function assignAllocation(q: Queryable, id: string, placement: Placement[]): Promise<boolean> {
  const r = await q.query(`UPDATE allocations SET state = 'ASSIGNED', placement = $2 WHERE id = $1 AND state = 'PENDING' RETURNING id`, [
    id,
    JSON.stringify(placement),
  ]);
  noteAllocationWrite(q, { ids: [id] });
  return r.rows.length > 0;
}

/** ASSIGNED → RUNNING once a rank reports it runs (idempotent). */
export async function markAllocationRunning(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE allocations SET state = 'RUNNING', started_at = coalesce(started_at, now()) WHERE id = $1 AND state = 'ASSIGNED'`, [id]);
  noteAllocationWrite(q, { ids: [id] });
}

export async function requestPreemption(q: Queryable, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await q.query(`UPDATE allocations SET preempt_requested = true WHERE id = ANY($1) AND state IN ('ASSIGNED','RUNNING')`, [ids]);
  noteAllocationWrite(q, { ids });
}

export async function requestKill(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE allocations SET kill_requested = true WHERE id = $1 AND state <> 'TERMINATED'`, [id]);
  noteAllocationWrite(q, { ids: [id] });
}

/**
 * Stops every allocation of an experiment: running ones are asked to preempt (checkpoint and exit) or are killed;
 * pending ones are withdrawn at once with `reason` as their exit reason.
 */
export async function releaseExperimentAllocations(q: Queryable, experimentId: number, how: 'preempt' | 'kill', reason: string): Promise<void> {
  if (how === 'preempt') {
    await q.query(`UPDATE allocations SET preempt_requested = true WHERE experiment_id = $1 AND state IN ('ASSIGNED','RUNNING')`, [experimentId]);
  } else {
    await q.query(`UPDATE allocations SET kill_requested = true WHERE experiment_id = $1 AND state IN ('ASSIGNED','RUNNING','TERMINATING')`, [experimentId]);
  }
  await q.query(`UPDATE allocations SET state = 'TERMINATED', ended_at = now(), exit_reason = $2 WHERE experiment_id = $1 AND state = 'PENDING'`, [
    experimentId,
    reason,
  ]);
  noteAllocationWrite(q, { experimentId });
}

/** Kills one trial's running allocations and withdraws its pending ones (a trial kill). */
export async function killTrialAllocations(q: Queryable, trialId: number, reason: string): Promise<void> {
  await q.query(`UPDATE allocations SET kill_requested = true WHERE trial_id = $1 AND state IN ('ASSIGNED','RUNNING','TERMINATING')`, [trialId]);
  await q.query(`UPDATE allocations SET state = 'TERMINATED', ended_at = now(), exit_reason = $2 WHERE trial_id = $1 AND state = 'PENDING'`, [trialId, reason]);
  noteAllocationWrite(q, { trialId });
}

/** Where an allocation's ranks run and on which devices (for the reproducibility record). */
export async function getPlacement(q: Queryable, id: string): Promise<Array<{ agentId: string; devices: number[] }>> {
  const r = await q.query<{ placement: Array<{ agentId: string; devices: number[] }> | null }>('SELECT placement FROM allocations WHERE id = $1', [id]);
  return r.rows[0]?.placement ?? [];
}

/** Locks an allocation for the transaction that ends it. */
export async function lockAllocation(q: Queryable, id: string): Promise<{ trialId: number; experimentId: number; state: AllocationState } | null> {
  const r = await q.query<{ trial_id: number; experiment_id: number; state: AllocationState }>(
    'SELECT trial_id, experiment_id, state FROM allocations WHERE id = $1 FOR UPDATE',
    [id],
  );
  const a = r.rows[0];
  return a ? { trialId: Number(a.trial_id), experimentId: Number(a.experiment_id), state: a.state } : null;
}

export async function terminateAllocation(
  q: Queryable,
  id: string,
  end: { exitCode: number | null; reason: string; failed: boolean; lastError: string | null },
): Promise<void> {
  await q.query(`UPDATE allocations SET state = 'TERMINATED', ended_at = now(), exit_code = $2, exit_reason = $3, failed = $4, last_error = $5 WHERE id = $1`, [
    id,
    end.exitCode,
    end.reason,
    end.failed,
    end.lastError,
  ]);
  noteAllocationWrite(q, { ids: [id] });
}

/** Every run of a trial, oldest first: its restart history. */
export async function listTrialAllocations(q: Queryable, trialId: number): Promise<AllocationSummary[]> {
  const r = await q.query(
    `SELECT id, state, slots, placement, created_at, started_at, ended_at, exit_code, exit_reason, last_error, failed
       FROM allocations WHERE trial_id = $1 ORDER BY seq`,
    [trialId],
  );
  return r.rows.map((a: any) => ({
    id: a.id,
    state: a.state,
    slots: a.slots,
    agents: [...new Set(((a.placement ?? []) as Placement[]).map((p) => p.agentId))],
    createdAt: iso(a.created_at),
    startedAt: isoOrNull(a.started_at),
    endedAt: isoOrNull(a.ended_at),
    exitCode: a.exit_code ?? null,
    exitReason: a.exit_reason ?? null,
    lastError: a.last_error ?? null,
    failed: a.failed,
  }));
}

export async function trialHasLiveAllocation(q: Queryable, trialId: number): Promise<boolean> {
  const r = await q.query(`SELECT 1 FROM allocations WHERE trial_id = $1 AND state <> 'TERMINATED' LIMIT 1`, [trialId]);
  return r.rows.length > 0;
}

export async function experimentHasLiveAllocation(q: Queryable, experimentId: number): Promise<boolean> {
  const r = await q.query(`SELECT 1 FROM allocations WHERE experiment_id = $1 AND state <> 'TERMINATED' LIMIT 1`, [experimentId]);
  return r.rows.length > 0;
}

export async function findByToken(q: Queryable, token: string): Promise<TaskIdentity | null> {
  const r = await q.query<TaskIdentity>('SELECT id, trial_id, experiment_id, state FROM allocations WHERE token = $1', [token]);
  const a = r.rows[0];
  return a ? { ...a, trial_id: Number(a.trial_id), experiment_id: Number(a.experiment_id) } : null;
}

/** The allocation's state and stop requests: whether its harness should stop (the preemption long-poll). */
export async function getStopState(q: Queryable, id: string): Promise<{ state: AllocationState; preemptRequested: boolean; killRequested: boolean; slots: number } | null> {
  const r = await q.query<{ state: AllocationState; preempt_requested: boolean; kill_requested: boolean; slots: number }>(
    'SELECT state, preempt_requested, kill_requested, slots FROM allocations WHERE id = $1',
    [id],
  );
  const a = r.rows[0];
  return a ? { state: a.state, preemptRequested: a.preempt_requested, killRequested: a.kill_requested, slots: a.slots } : null;
}

export async function postRendezvous(q: Queryable, id: string, rank: number, address: string): Promise<void> {
  await q.query(`UPDATE allocations SET rendezvous = rendezvous || jsonb_build_object($2::text, $3::text) WHERE id = $1`, [id, String(rank), address]);
}

/** The posted addresses by rank (undefined where a rank has not posted yet). */
export async function getRendezvous(q: Queryable, id: string): Promise<{ slots: number; addresses: Array<string | undefined> } | null> {
  const r = await q.query<{ slots: number; rendezvous: Record<string, string> }>('SELECT slots, rendezvous FROM allocations WHERE id = $1', [id]);
  const a = r.rows[0];
  if (!a) return null;
  return { slots: a.slots, addresses: Array.from({ length: a.slots }, (_, i) => a.rendezvous[String(i)]) };
}

export async function countLiveAllocationsByState(q: Queryable): Promise<Array<{ state: AllocationState; n: number }>> {
  const r = await q.query<{ state: AllocationState; n: number }>(`SELECT state, count(*)::int AS n FROM allocations WHERE state <> 'TERMINATED' GROUP BY state`);
  return r.rows;
}
