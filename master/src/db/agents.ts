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
