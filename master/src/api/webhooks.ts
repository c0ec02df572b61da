// /api/v1/webhooks: create (the secret is shown in that answer only), list and describe (with the latest delivery
// attempts), delete. A webhook for one experiment may be made by that experiment's owner or an admin; one for
// every experiment by an admin only.
import crypto from 'node:crypto';
import { Type } from 'typebox';
import type { ExperimentState } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { WEBHOOK_TRIGGERS, type CreatedWebhook, type WebhookInfo } from '@hone/protocol/webhooks';
import type { App, MasterContext } from '../context';
import { requireAdmin, requireOwnerOrAdmin } from '../auth/permissions';
import { getExperimentSummary } from '../db/experiments';
import { deleteWebhook, getWebhook, insertWebhook, listWebhooks, recentDeliveries, type WebhookRow } from '../db/webhooks';
import { invalid, notFound } from '../errors';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
/** Delivery attempts shown per webhook. */
const RECENT = 10;

/** The URL a webhook posts to, checked: http or https, with a host. */
export function parseWebhookUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid(`url: "${raw}" is not a URL; give an http:// or https:// URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`url: must be an http:// or https:// URL, got ${u.protocol}//`);
  if (!u.hostname) throw invalid('url: must name a host');
  return u.toString();
}

/** The triggers, upper-cased and checked against the states that can trigger a webhook. */
export function parseTriggers(raw: string[]): ExperimentState[] {
  const out = [...new Set(raw.map((t) => t.trim().toUpperCase()).filter(Boolean))];
  if (!out.length) throw invalid(`triggers: give at least one of ${WEBHOOK_TRIGGERS.join(', ')}`);
  const bad = out.find((t) => !(WEBHOOK_TRIGGERS as readonly string[]).includes(t));
  if (bad) throw invalid(`triggers: unknown trigger "${bad}" (expected ${WEBHOOK_TRIGGERS.join(', ')})`);
  return out as ExperimentState[];
}

export function registerWebhookRoutes(app: App, ctx: MasterContext): void {
  const withDeliveries = async (rows: WebhookRow[]): Promise<WebhookInfo[]> => {
    const recent = await recentDeliveries(ctx.db, rows.map((r) => r.id), RECENT);
    return rows.map(({ secret: _secret, ...w }) => ({ ...w, deliveries: recent.get(w.id) ?? [] }));
  };

  app.post(
    `${API_PREFIX}/webhooks`,
    {
      schema: {
        tags: ['webhooks'],
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048 }),
            triggers: Type.Array(Type.String({ maxLength: 32 }), { minItems: 1, maxItems: 16 }),
            experimentId: Type.Optional(Type.Integer({ minimum: 1 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply): Promise<CreatedWebhook> => {
      const url = parseWebhookUrl(req.body.url);
      const triggers = parseTriggers(req.body.triggers);
      const experimentId = req.body.experimentId ?? null;
      if (experimentId === null) requireAdmin(req.user!, 'create a webhook for every experiment (give experimentId for one of yours)');
      else {
        const exp = await getExperimentSummary(ctx.db, experimentId);
        if (!exp) throw invalid(`experimentId: experiment ${experimentId} not found`);
        requireOwnerOrAdmin(req.user!, exp.user, `add a webhook to experiment ${experimentId}`);
      }
      const secret = `whsec_${crypto.randomBytes(24).toString('base64url')}`;
      const row = await insertWebhook(ctx.db, { url, triggers, experimentId, secret, owner: req.user!.username });
      reply.status(201);
      const [info] = await withDeliveries([row]);
      return { ...info!, secret };
    },
  );

  app.get(`${API_PREFIX}/webhooks`, { schema: { tags: ['webhooks'] } }, async (): Promise<WebhookInfo[]> => withDeliveries(await listWebhooks(ctx.db)));

  app.get(`${API_PREFIX}/webhooks/:id`, { schema: { tags: ['webhooks'], params: IdParams } }, async (req): Promise<WebhookInfo> => {
    const row = await getWebhook(ctx.db, req.params.id);
    if (!row) throw notFound('webhook', req.params.id);
    return (await withDeliveries([row]))[0]!;
  });

  app.delete(`${API_PREFIX}/webhooks/:id`, { schema: { tags: ['webhooks'], params: IdParams } }, async (req, reply) => {
    const row = await getWebhook(ctx.db, req.params.id);
    if (!row) throw notFound('webhook', req.params.id);
    requireOwnerOrAdmin(req.user!, row.owner, `delete webhook ${row.id}`);
    await deleteWebhook(ctx.db, row.id);
    return reply.status(204).send();
  });
}
