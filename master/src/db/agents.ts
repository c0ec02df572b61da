// Agents repository: the only code that reads or writes `agents` — every agent that ever said hello, with the
// devices it last reported, so that views and submit-time checks know agents that are away right now.
import type { Device } from '@hone/protocol';
import type { Queryable } from './database';

export interface AgentRecord {
  id: string;
  pool: string;
  hostname: string;
  devices: Device[];
  version: string;
  connected: boolean;
  lastSeen: Date;
}

function toRecord(r: any): AgentRecord {
  return {
    id: r.id,
    pool: r.resource_pool,
    hostname: r.hostname,
    devices: r.devices,
    version: r.version,
    connected: r.connected,
    lastSeen: r.last_seen instanceof Date ? r.last_seen : new Date(r.last_seen),
  };
}

/** An agent connected (said hello): record what it reported. */
export async function upsertConnectedAgent(q: Queryable, a: { id: string; pool: string; hostname: string; devices: Device[]; version: string }): Promise<void> {
  await q.query(
    `INSERT INTO agents (id, resource_pool, hostname, devices, version, connected, last_seen) VALUES ($1, $2, $3, $4, $5, true, now())
     ON CONFLICT (id) DO UPDATE SET resource_pool = $2, hostname = $3, devices = $4, version = $5, connected = true, last_seen = now()`,
    [a.id, a.pool, a.hostname, JSON.stringify(a.devices), a.version],
  );
}

export async function markAgentDisconnected(q: Queryable, id: string): Promise<void> {
  await q.query('UPDATE agents SET connected = false, last_seen = now() WHERE id = $1', [id]);
}

export async function listAgents(q: Queryable, pool?: string): Promise<AgentRecord[]> {
  const r = pool === undefined
    ? await q.query('SELECT * FROM agents ORDER BY id')
    : await q.query('SELECT * FROM agents WHERE resource_pool = $1 ORDER BY id', [pool]);
  return r.rows.map(toRecord);
}

/** An agent's credential as stored: the SHA-256 of its secret, and whether the agent has presented it yet. */
export interface AgentCredential {
  secretHash: string | null;
  confirmed: boolean;
}

/** The stored credential of agent `id`; null when the master has never seen that id (or it was deleted). */
export async function getAgentCredential(q: Queryable, id: string): Promise<AgentCredential | null> {
  const r = await q.query('SELECT secret_hash, credential_confirmed FROM agents WHERE id = $1', [id]);
  const row = r.rows[0] as { secret_hash: string | null; credential_confirmed: boolean } | undefined;
  return row ? { secretHash: row.secret_hash ?? null, confirmed: row.credential_confirmed } : null;
}

/**
 * Records a new credential for agent `id` (creating its row, not yet connected), unless the agent already
 * confirmed one: a confirmed credential is only ever replaced by deleting the agent. Returns whether it was stored.
 */
export async function issueAgentCredential(
  q: Queryable,
  a: { id: string; pool: string; hostname: string; devices: Device[]; version: string; secretHash: string },
): Promise<boolean> {
  const r = await q.query(
    `INSERT INTO agents (id, resource_pool, hostname, devices, version, connected, last_seen, secret_hash, credential_issued_at, credential_confirmed)
     VALUES ($1, $2, $3, $4, $5, false, now(), $6, now(), false)
     ON CONFLICT (id) DO UPDATE SET secret_hash = $6, credential_issued_at = now(), credential_confirmed = false
       WHERE agents.secret_hash IS NULL OR agents.credential_confirmed = false
     RETURNING id`,
    [a.id, a.pool, a.hostname, JSON.stringify(a.devices), a.version, a.secretHash],
  );
  return r.rows.length > 0;
}

/** The agent presented its credential: from now on only that secret admits the id. */
export async function confirmAgentCredential(q: Queryable, id: string): Promise<void> {
  await q.query('UPDATE agents SET credential_confirmed = true WHERE id = $1', [id]);
}

/**
 * Forgets agent `id`, its credential included (an operator's reset: the next hello for that id is a new agent's,
 * which needs the cluster agent token). Returns whether there was such an agent.
 */
export async function deleteAgent(q: Queryable, id: string): Promise<boolean> {
  const r = await q.query('DELETE FROM agents WHERE id = $1 RETURNING id', [id]);
  return r.rows.length > 0;
}

/** Where the master stands in an agent's outbox: its epoch and the highest seq stored (null: never recorded). */
export async function getAgentOutbox(q: Queryable, id: string): Promise<{ epoch: string; seq: number } | null> {
  const r = await q.query('SELECT outbox_epoch, outbox_seq FROM agents WHERE id = $1', [id]);
  const row = r.rows[0] as { outbox_epoch: string | null; outbox_seq: string | number } | undefined;
  return row?.outbox_epoch ? { epoch: row.outbox_epoch, seq: Number(row.outbox_seq) } : null;
}

/** Records that every message of agent `id`'s outbox `epoch` up to `seq` is stored. */
export async function setAgentOutbox(q: Queryable, id: string, epoch: string, seq: number): Promise<void> {
  await q.query('UPDATE agents SET outbox_epoch = $2, outbox_seq = $3 WHERE id = $1', [id, epoch, seq]);
}
