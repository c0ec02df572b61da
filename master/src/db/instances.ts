// Instances repository: the only code that reads or writes `instances`, `instance_history` and
// `provisioner_identity`. Every state change is written with its history row in one transaction.
import crypto from 'node:crypto';
import type { Database, Queryable } from './database';
import { iso, isoOrNull } from './sql';
import type { InstanceState } from '../provisioner/types';

export interface InstanceRecord {
  id: string;
  pool: string;
  provider: string;
  idempotencyKey: string;
  cloudId: string | null;
  state: InstanceState;
  instanceType: string;
  slots: number;
  reason: string | null;
  createdAt: Date;
  updatedAt: Date;
  registeredAt: Date | null;
  idleSince: Date | null;
  terminatedAt: Date | null;
}

export interface InstanceHistoryEntry {
  instanceId: string;
  from: InstanceState | null;
  to: InstanceState;
  reason: string | null;
  at: string;
}

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v == null ? null : date(v));

function toRecord(r: any): InstanceRecord {
  return {
    id: r.id,
    pool: r.pool,
    provider: r.provider,
    idempotencyKey: r.idempotency_key,
    cloudId: r.cloud_id ?? null,
    state: r.state,
    instanceType: r.instance_type,
    slots: Number(r.slots),
    reason: r.reason ?? null,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    registeredAt: dateOrNull(r.registered_at),
    idleSince: dateOrNull(r.idle_since),
    terminatedAt: dateOrNull(r.terminated_at),
  };
}

/** Which moves are allowed: forward only (running and idle alternate). */
const NEXT: Record<InstanceState, InstanceState[]> = {
  requested: ['launching', 'running', 'idle', 'terminating', 'terminated'],
  launching: ['running', 'idle', 'terminating', 'terminated'],
  running: ['idle', 'terminating', 'terminated'],
  idle: ['running', 'terminating', 'terminated'],
  terminating: ['terminated'],
  terminated: [],
};

export function canMove(from: InstanceState, to: InstanceState): boolean {
  return NEXT[from].includes(to);
}

/** This master's id for cloud tags: made once, kept in the database (so a restart keeps it). */
export async function masterId(db: Database): Promise<string> {
  await db.query('INSERT INTO provisioner_identity (singleton, master_id) VALUES (true, $1) ON CONFLICT (singleton) DO NOTHING', [
    `hone-${crypto.randomBytes(6).toString('hex')}`,
  ]);
  const r = await db.query<{ master_id: string }>('SELECT master_id FROM provisioner_identity');
  return r.rows[0]!.master_id;
}

/** Writes a `requested` row before the cloud is asked. */
export async function insertRequested(
  db: Database,
  i: { id: string; pool: string; provider: string; idempotencyKey: string; instanceType: string; slots: number; reason: string },
): Promise<InstanceRecord> {
  return db.transaction(async (tx) => {
    const r = await tx.query(
      `INSERT INTO instances (id, pool, provider, idempotency_key, state, instance_type, slots, reason) VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7) RETURNING *`,
      [i.id, i.pool, i.provider, i.idempotencyKey, i.instanceType, i.slots, i.reason],
    );
    await history(tx, i.id, null, 'requested', i.reason);
    return toRecord(r.rows[0]);
  });
}

async function history(q: Queryable, id: string, from: InstanceState | null, to: InstanceState, reason: string | null): Promise<void> {
  await q.query('INSERT INTO instance_history (instance_id, from_state, to_state, reason) VALUES ($1, $2, $3, $4)', [id, from, to, reason]);
}

/**
 * Moves an instance to `to` (with `reason`), if that move is allowed from its current state; sets the times that
 * go with the state. Returns the updated row, or null when the move was not allowed (the row is unchanged).
 */
export async function moveInstance(db: Database, id: string, to: InstanceState, reason: string | null, extra: { cloudId?: string; idleSince?: Date | null } = {}): Promise<InstanceRecord | null> {
  return db.transaction(async (tx) => {
    const cur = await tx.query('SELECT * FROM instances WHERE id = $1 FOR UPDATE', [id]);
    const row = cur.rows[0] ? toRecord(cur.rows[0]) : null;
    if (!row) return null;
    if (row.state === to) {
      if (extra.cloudId && !row.cloudId) await tx.query('UPDATE instances SET cloud_id = $2, updated_at = now() WHERE id = $1', [id, extra.cloudId]);
      return row;
    }
    if (!canMove(row.state, to)) return null;
    const registered = (to === 'running' || to === 'idle') && !row.registeredAt;
    const idleSince = to === 'idle' ? (extra.idleSince ?? new Date()) : null;
    const r = await tx.query(
      `UPDATE instances SET state = $2, reason = COALESCE($3, reason), updated_at = now(),
         cloud_id = COALESCE($4, cloud_id),
         registered_at = CASE WHEN $5 THEN now() ELSE registered_at END,
         idle_since = $6,
         terminated_at = CASE WHEN $2 = 'terminated' THEN now() ELSE terminated_at END
       WHERE id = $1 RETURNING *`,
      [id, to, reason, extra.cloudId ?? null, registered, isoOrNull(idleSince)],
    );
    await history(tx, id, row.state, to, reason);
    return toRecord(r.rows[0]);
  });
}

/** Records the cloud id of a launched instance. */
export async function setCloudId(db: Queryable, id: string, cloudId: string): Promise<void> {
  await db.query('UPDATE instances SET cloud_id = $2, updated_at = now() WHERE id = $1', [id, cloudId]);
}

/** Instances of a pool that are not terminated (or all of the pool's, with `all`). */
export async function listInstances(q: Queryable, pool?: string, opts: { all?: boolean } = {}): Promise<InstanceRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (pool !== undefined) {
    params.push(pool);
    where.push(`pool = $${params.length}`);
  }
  if (!opts.all) where.push(`state <> 'terminated'`);
  const r = await q.query(`SELECT * FROM instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`, params);
  return r.rows.map(toRecord);
}

/** Recently terminated instances of a pool (for the view), newest first. */
export async function listRecentlyTerminated(q: Queryable, pool: string, limit: number): Promise<InstanceRecord[]> {
  const r = await q.query(`SELECT * FROM instances WHERE pool = $1 AND state = 'terminated' ORDER BY terminated_at DESC, id LIMIT $2`, [pool, limit]);
  return r.rows.map(toRecord);
}

export async function getInstanceByKey(q: Queryable, key: string): Promise<InstanceRecord | null> {
  const r = await q.query('SELECT * FROM instances WHERE idempotency_key = $1', [key]);
  return r.rows[0] ? toRecord(r.rows[0]) : null;
}

export async function instanceHistory(q: Queryable, id: string): Promise<InstanceHistoryEntry[]> {
  const r = await q.query('SELECT * FROM instance_history WHERE instance_id = $1 ORDER BY id', [id]);
  return r.rows.map((h: any) => ({ instanceId: h.instance_id, from: h.from_state ?? null, to: h.to_state, reason: h.reason ?? null, at: iso(h.at) }));
}

/** Non-terminated instances by pool and state, for gauges. */
export async function countInstancesByState(q: Queryable): Promise<Array<{ pool: string; state: InstanceState; n: number }>> {
  const r = await q.query<{ pool: string; state: InstanceState; n: number }>(`SELECT pool, state, count(*)::int AS n FROM instances WHERE state <> 'terminated' GROUP BY pool, state`);
  return r.rows;
}

/**
 * A pool's history from its latest registration (an instance's agent joining: launching -> running | idle) on,
 * in the order it was written: what the provisioner's launch back-off is derived from after a restart.
 */
export async function poolHistorySinceRegistration(q: Queryable, pool: string): Promise<Array<{ from: InstanceState | null; to: InstanceState; reason: string | null; at: number }>> {
  const r = await q.query(
    `SELECT h.from_state, h.to_state, h.reason, h.at FROM instance_history h JOIN instances i ON i.id = h.instance_id
      WHERE i.pool = $1 AND h.id >= COALESCE((
        SELECT max(h2.id) FROM instance_history h2 JOIN instances i2 ON i2.id = h2.instance_id
         WHERE i2.pool = $1 AND h2.from_state = 'launching' AND h2.to_state IN ('running', 'idle')), 0)
      ORDER BY h.id`,
    [pool],
  );
  return r.rows.map((h: any) => ({ from: h.from_state ?? null, to: h.to_state, reason: h.reason ?? null, at: date(h.at).getTime() }));
}
