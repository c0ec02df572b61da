// Webhooks repository: the only code that reads or writes `webhooks` and `webhook_deliveries`.
import type { ExperimentState } from '@hone/protocol';
import type { WebhookDelivery, WebhookInfo } from '@hone/protocol/webhooks';
import type { Queryable } from './database';
import { iso } from './sql';

export interface WebhookRow extends Omit<WebhookInfo, 'deliveries'> {
  secret: string;
}

function toWebhook(r: any): WebhookRow {
  return {
    id: Number(r.id),
    url: r.url,
    triggers: r.triggers as ExperimentState[],
    experimentId: r.experiment_id == null ? null : Number(r.experiment_id),
    owner: r.owner,
    createdAt: iso(r.created_at),
    secret: r.secret,
  };
}

function toDelivery(r: any): WebhookDelivery {
  return {
    id: Number(r.id),
    experimentId: r.experiment_id == null ? null : Number(r.experiment_id),
    trigger: r.trigger_state as ExperimentState,
    attempt: Number(r.attempt),
    statusCode: r.status_code ?? null,
    error: r.error ?? null,
    at: iso(r.at),
  };
}

export async function insertWebhook(q: Queryable, w: { url: string; triggers: ExperimentState[]; experimentId: number | null; secret: string; owner: string }): Promise<WebhookRow> {
  const r = await q.query(
    'INSERT INTO webhooks (url, triggers, experiment_id, secret, owner) VALUES ($1, $2, $3, $4, $5) RETURNING *',
    [w.url, w.triggers, w.experimentId, w.secret, w.owner],
  );
  return toWebhook(r.rows[0]);
}

export async function getWebhook(q: Queryable, id: number): Promise<WebhookRow | null> {
  const r = await q.query('SELECT * FROM webhooks WHERE id = $1', [id]);
  return r.rows[0] ? toWebhook(r.rows[0]) : null;
}

export async function listWebhooks(q: Queryable): Promise<WebhookRow[]> {
  const r = await q.query('SELECT * FROM webhooks ORDER BY id');
  return r.rows.map(toWebhook);
}

export async function deleteWebhook(q: Queryable, id: number): Promise<boolean> {
  const r = await q.query('DELETE FROM webhooks WHERE id = $1', [id]);
  return r.rowCount > 0;
}

/** The webhooks that listen for `state` of experiment `experimentId` (its own, and those for every experiment). */
export async function webhooksFor(q: Queryable, experimentId: number, state: ExperimentState): Promise<WebhookRow[]> {
  const r = await q.query('SELECT * FROM webhooks WHERE (experiment_id IS NULL OR experiment_id = $1) AND $2 = ANY(triggers) ORDER BY id', [experimentId, state]);
  return r.rows.map(toWebhook);
}

export async function recordDelivery(
  q: Queryable,
  d: { webhookId: number; experimentId: number | null; trigger: ExperimentState; attempt: number; statusCode: number | null; error: string | null },
): Promise<void> {
  await q.query(
    `INSERT INTO webhook_deliveries (webhook_id, experiment_id, trigger_state, attempt, status_code, error)
     SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)`,
    [d.webhookId, d.experimentId, d.trigger, d.attempt, d.statusCode, d.error?.slice(0, 1000) ?? null],
  );
}

/** The latest `limit` delivery attempts of each of `ids`, newest first. */
export async function recentDeliveries(q: Queryable, ids: number[], limit: number): Promise<Map<number, WebhookDelivery[]>> {
  const out = new Map<number, WebhookDelivery[]>(ids.map((id) => [id, []]));
  if (!ids.length) return out;
  const r = await q.query(
    `SELECT * FROM (SELECT d.*, row_number() OVER (PARTITION BY webhook_id ORDER BY id DESC) AS n FROM webhook_deliveries d WHERE webhook_id = ANY($1)) s
      WHERE n <= $2 ORDER BY webhook_id, id DESC`,
    [ids, limit],
  );
  for (const row of r.rows) out.get(Number(row.webhook_id))?.push(toDelivery(row));
  return out;
}
