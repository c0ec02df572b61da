// Delivers one webhook event: a JSON POST signed with the webhook's secret (X-Hone-Signature: sha256=<hex> of the
// raw body). The body was fixed when the state changed, so every retry sends, and signs, the same bytes. Each
// attempt is recorded with its status code or error; anything but a 2xx answer is retried with backoff.
import crypto from 'node:crypto';
import type { ExperimentState } from '@hone/protocol';
import { WEBHOOK_SIGNATURE_HEADER, WEBHOOK_SIGNATURE_PREFIX } from '@hone/protocol/webhooks';
import type { Database } from '../../db';
import { getWebhook, recordDelivery } from '../../db/webhooks';
import type { JobHandler } from '../types';

export const WEBHOOK_DELIVERY = 'webhookDelivery';
export const WEBHOOK_ATTEMPTS = 8;
const TIMEOUT_MS = 10_000;

export interface WebhookDeliveryPayload {
  webhookId: number;
  experimentId: number;
  trigger: ExperimentState;
  body: string;
}

export function signWebhookBody(secret: string, body: string): string {
  return WEBHOOK_SIGNATURE_PREFIX + crypto.createHmac('sha256', secret).update(body).digest('hex');
}

export function webhookDeliveryHandler(deps: { db: Database }): JobHandler<WebhookDeliveryPayload> {
  return {
    kind: WEBHOOK_DELIVERY,
    maxAttempts: WEBHOOK_ATTEMPTS,
    async run(p, job) {
      const hook = await getWebhook(deps.db, p.webhookId);
      if (!hook) return; // deleted since: nothing to deliver
      let statusCode: number | null = null;
      let error: string | null = null;
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'hone-webhook/0.1',
            [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(hook.secret, p.body),
            'x-hone-event': 'experiment.state',
            ...(job.id !== null ? { 'x-hone-delivery': String(job.id) } : {}),
          },
          body: p.body,
          signal: AbortSignal.timeout(TIMEOUT_MS),
          redirect: 'manual',
        });
        statusCode = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        error = err.name === 'TimeoutError' ? `no answer in ${TIMEOUT_MS / 1000} s` : `${err.message}${err.cause?.code ? ` (${err.cause.code})` : err.cause?.message ? ` (${err.cause.message})` : ''}`;
      }
      await recordDelivery(deps.db, { webhookId: hook.id, experimentId: p.experimentId, trigger: p.trigger, attempt: job.attempt, statusCode, error });
      if (error) throw new Error(`webhook ${hook.id} (${hook.url}): ${error}`);
    },
  };
}
