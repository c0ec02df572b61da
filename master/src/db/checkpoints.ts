// Checkpoints repository: the only code that reads or writes `checkpoints`.
import type { CheckpointInfo, CheckpointStorageConfig } from '@hone/protocol';
import type { Queryable } from './database';
import { iso } from './sql';

function toInfo(r: any): CheckpointInfo {
  return {
    uuid: r.uuid,
    trialId: Number(r.trial_id),
    experimentId: Number(r.experiment_id),
    allocationId: r.allocation_id ?? null,
    stepsCompleted: Number(r.steps_completed),
    storage: r.storage,
    resources: r.resources,
    metadata: r.metadata ?? {},
    state: r.state,
    reportedAt: iso(r.reported_at),
    ...(r.validation_metric !== undefined ? { validationMetric: r.validation_metric } : {}),
  };
}

/** The searcher metric's validation value at the checkpoint's step (the latest report of that step). */
const VALIDATION_AT_CHECKPOINT = `(SELECT (m.metrics->>e.searcher_metric)::float8 FROM metrics m
   WHERE m.trial_id = c.trial_id AND m.grp = 'validation' AND m.steps_completed = c.steps_completed AND NOT m.superseded ORDER BY m.id DESC LIMIT 1)`;

export interface NewCheckpoint {
  uuid: string;
  trialId: number;
  experimentId: number;
  allocationId: string;
  stepsCompleted: number;
  storage: CheckpointStorageConfig;
  resources: Record<string, number>;
  metadata: Record<string, unknown>;
}

/** Registers a checkpoint once; a repeated registration of the same uuid changes nothing. */
export async function insertCheckpoint(q: Queryable, c: NewCheckpoint): Promise<void> {
  await q.query(
    `INSERT INTO checkpoints (uuid, trial_id, experiment_id, allocation_id, steps_completed, storage, resources, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (uuid) DO NOTHING`,
    [c.uuid, c.trialId, c.experimentId, c.allocationId, c.stepsCompleted, JSON.stringify(c.storage), JSON.stringify(c.resources), JSON.stringify(c.metadata)],
  );
}

export async function getCheckpoint(q: Queryable, uuid: string): Promise<CheckpointInfo | null> {
  const r = await q.query('SELECT * FROM checkpoints WHERE uuid = $1', [uuid]);
  return r.rows[0] ? toInfo(r.rows[0]) : null;
}

/** A trial's checkpoints in step order, each with the searcher metric's validation value at its step. */
export async function listTrialCheckpoints(q: Queryable, trialId: number): Promise<CheckpointInfo[]> {
  const r = await q.query(
    `SELECT c.*, ${VALIDATION_AT_CHECKPOINT} AS validation_metric
       FROM checkpoints c JOIN experiments e ON e.id = c.experiment_id WHERE c.trial_id = $1 ORDER BY c.steps_completed, c.reported_at`,
    [trialId],
  );
  return r.rows.map(toInfo);
}

/**
 * An experiment's live (COMPLETED) checkpoints with their metric, for garbage collection. `registered` marks those
 * registered as a model version: the policy never deletes them.
 */
export async function listCollectable(
  q: Queryable,
  experimentId: number,
): Promise<Array<{ uuid: string; trialId: number; stepsCompleted: number; metric: number | null; storage: CheckpointStorageConfig; registered: boolean }>> {
  const r = await q.query<{ uuid: string; trial_id: number; steps_completed: number; metric: number | null; storage: CheckpointStorageConfig; registered: boolean }>(
    `SELECT c.uuid, c.trial_id, c.steps_completed, c.storage, ${VALIDATION_AT_CHECKPOINT} AS metric,
            EXISTS (SELECT 1 FROM model_versions v WHERE v.checkpoint_uuid = c.uuid) AS registered
       FROM checkpoints c JOIN experiments e ON e.id = c.experiment_id WHERE c.experiment_id = $1 AND c.state = 'COMPLETED'`,
    [experimentId],
  );
  return r.rows.map((c) => ({
    uuid: c.uuid,
    trialId: Number(c.trial_id),
    stepsCompleted: Number(c.steps_completed),
    metric: c.metric,
    storage: c.storage,
    registered: c.registered === true,
  }));
}

/** Marks a checkpoint's files as deleted (the row stays, for the record). */
export async function markCheckpointDeleted(q: Queryable, uuid: string): Promise<void> {
  await q.query(`UPDATE checkpoints SET state = 'DELETED' WHERE uuid = $1`, [uuid]);
}

/** Every checkpoint of an experiment, whatever its state (deletion removes the files of each, then the rows). */
export async function listExperimentCheckpointStorage(q: Queryable, experimentId: number): Promise<Array<{ uuid: string; storage: CheckpointStorageConfig }>> {
  const r = await q.query<{ uuid: string; storage: CheckpointStorageConfig }>('SELECT uuid, storage FROM checkpoints WHERE experiment_id = $1 ORDER BY reported_at', [experimentId]);
  return r.rows;
}
