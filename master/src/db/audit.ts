// Audit repository: the only code that writes `audit_log` — who did what to which experiment, and when.
import type { AuditEntry } from '@hone/protocol';
import type { Queryable } from './database';
import { iso } from './sql';

export async function recordAudit(q: Queryable, e: { username: string; action: string; experimentId: number | null; details?: Record<string, unknown> }): Promise<void> {
  await q.query('INSERT INTO audit_log (username, action, experiment_id, details) VALUES ($1, $2, $3, $4)', [
    e.username,
    e.action,
    e.experimentId,
    JSON.stringify(e.details ?? {}),
  ]);
}

export async function listExperimentAudit(q: Queryable, experimentId: number): Promise<AuditEntry[]> {
  const r = await q.query('SELECT at, username, action, details FROM audit_log WHERE experiment_id = $1 ORDER BY id', [experimentId]);
  return r.rows.map((x: any) => ({ at: iso(x.at), username: x.username, action: x.action, details: x.details ?? {} }));
}
