// Webhooks: REST bodies under /api/v1/webhooks and the JSON the master POSTs for each experiment state change.
// The POST carries `X-Hone-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed by the webhook's
// secret (shown once, when the webhook is created), so a receiver can check that the master sent it.
import type { ExperimentState } from './api';

/** The header that carries the signature, and the prefix of its value. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-hone-signature';
export const WEBHOOK_SIGNATURE_PREFIX = 'sha256=';

/** POST /webhooks. `triggers`: experiment states (COMPLETED, ERROR, CANCELED, ...); `experimentId`: only that one. */
export interface CreateWebhookBody {
  url: string;
  triggers: ExperimentState[];
  experimentId?: number;
}

export interface WebhookDelivery {
  id: number;
  experimentId: number | null;
  trigger: ExperimentState;
  attempt: number;
  /** The receiver's HTTP status, or null when none came (then `error` says why). */
  statusCode: number | null;
  error: string | null;
  at: string;
}

export interface WebhookInfo {
  id: number;
  url: string;
  triggers: ExperimentState[];
  experimentId: number | null;
  owner: string;
  createdAt: string;
  /** The latest delivery attempts, newest first. */
  deliveries: WebhookDelivery[];
}

/** The answer to POST /webhooks: the webhook and its signing secret (the only time the master shows it). */
export interface CreatedWebhook extends WebhookInfo {
  secret: string;
}

/** The JSON body of a delivery. */
export interface WebhookEvent {
  event: 'experiment.state';
  /** The state entered, one of the webhook's triggers. */
  trigger: ExperimentState;
  experiment: { id: number; name: string; state: ExperimentState };
  at: string;
}

/** The experiment states a webhook may be triggered by (the states an experiment enters through its lifecycle). */
export const WEBHOOK_TRIGGERS: readonly ExperimentState[] = ['ACTIVE', 'PAUSED', 'STOPPING_CANCELED', 'COMPLETED', 'CANCELED', 'ERROR'];
