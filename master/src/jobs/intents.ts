// The jobs that changes cause, written in the transaction of the change itself (the outbox's whole point: the
// change and its follow-up work commit together, or neither does).
import type { ExperimentState } from '@hone/protocol';
import { TERMINAL_EXPERIMENT_STATES } from '@hone/protocol';
import type { WebhookEvent } from '@hone/protocol/webhooks';
import type { Queryable } from '../db';
import { enqueueJob } from '../db/jobs';
import { webhooksFor } from '../db/webhooks';
import { CHECKPOINT_GC } from './handlers/checkpointGc';
import { DELETE_ATTEMPTS, DELETE_EXPERIMENT } from './handlers/deleteExperiment';
import { WEBHOOK_ATTEMPTS, WEBHOOK_DELIVERY, type WebhookDeliveryPayload } from './handlers/webhookDelivery';

/** An experiment entered `state`: its webhooks' deliveries, and checkpoint GC when it ended. */
export async function experimentStateChanged(tx: Queryable, exp: { id: number; name: string }, state: ExperimentState): Promise<void> {
  if (TERMINAL_EXPERIMENT_STATES.includes(state)) {
    await enqueueJob(tx, { kind: CHECKPOINT_GC, payload: { experimentId: exp.id }, dedupeKey: `gc-${exp.id}` });
  }
  const hooks = await webhooksFor(tx, exp.id, state);
  if (!hooks.length) return;
  const event: WebhookEvent = { event: 'experiment.state', trigger: state, experiment: { id: exp.id, name: exp.name, state }, at: new Date().toISOString() };
  const body = JSON.stringify(event);
  for (const h of hooks) {
    const payload: WebhookDeliveryPayload = { webhookId: h.id, experimentId: exp.id, trigger: state, body };
    await enqueueJob(tx, { kind: WEBHOOK_DELIVERY, payload: payload as unknown as Record<string, unknown>, maxAttempts: WEBHOOK_ATTEMPTS });
  }
}

/** The deletion of an experiment was asked for (it is DELETING now). */
export async function experimentDeletionRequested(tx: Queryable, experimentId: number): Promise<void> {
  await enqueueJob(tx, { kind: DELETE_EXPERIMENT, payload: { experimentId }, dedupeKey: `delete-${experimentId}`, maxAttempts: DELETE_ATTEMPTS });
}
