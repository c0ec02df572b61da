// Row -> API shape mapping, and the SQL that reads experiments and trials for the API.
import type { CheckpointInfo, ExperimentConfig, ExperimentState, ExperimentSummary, TrialState, TrialSummary } from '@hone/protocol';
import type { Queryable } from '../db';

const iso = (d: unknown): string => (d instanceof Date ? d.toISOString() : String(d));
const isoOrNull = (d: unknown): string | null => (d == null ? null : iso(d));

export const EXPERIMENT_COLUMNS = `e.id, e.name, e.state, e.config, e.resource_pool, e.priority, e.weight, e.max_slots, e.progress,
  e.best_metric, e.owner, e.labels, e.start_time, e.end_time,
  (SELECT count(*) FROM trials t WHERE t.experiment_id = e.id) AS num_trials,
  (SELECT coalesce(jsonb_object_agg(s.state, s.n), '{}'::jsonb) FROM
     (SELECT t.state, count(*) AS n FROM trials t WHERE t.experiment_id = e.id GROUP BY t.state) s) AS trial_states`;

export function toExperimentSummary(r: any): ExperimentSummary {
  const config = r.config as ExperimentConfig;
  return {
    id: Number(r.id),
    name: r.name,
    state: r.state as ExperimentState,
    searcher: config.searcher.name,
    metric: config.searcher.metric,
    smallerIsBetter: config.searcher.smaller_is_better,
    resourcePool: r.resource_pool,
    priority: r.priority,
    weight: r.weight,
    maxSlots: r.max_slots ?? null,
    numTrials: Number(r.num_trials ?? 0),
    trialStates: Object.fromEntries(Object.entries(r.trial_states ?? {}).map(([k, v]) => [k, Number(v)])),
    bestMetric: r.best_metric ?? null,
    progress: r.progress ?? 0,
    user: r.owner,
    labels: r.labels ?? [],
    startTime: iso(r.start_time),
    endTime: isoOrNull(r.end_time),
  };
}

export const TRIAL_COLUMNS = `t.id, t.experiment_id, t.request_id, t.state, t.hparams, t.seed, t.target_length, t.completed_length,
  t.restarts, t.best_validation, t.latest_validation, t.latest_training, t.latest_checkpoint, t.start_time, t.end_time, t.closed`;

export function toTrialSummary(r: any): TrialSummary {
  return {
    id: Number(r.id),
    experimentId: Number(r.experiment_id),
    requestId: r.request_id,
    state: r.state as TrialState,
    hparams: r.hparams,
    seed: Number(r.seed),
    targetLength: r.target_length,
    completedLength: r.completed_length,
    restarts: r.restarts,
    bestValidation: r.best_validation ?? null,
    latestValidation: r.latest_validation ?? null,
    latestTraining: r.latest_training ?? null,
    latestCheckpoint: r.latest_checkpoint ?? null,
    startTime: iso(r.start_time),
    endTime: isoOrNull(r.end_time),
  };
}

export function toCheckpointInfo(r: any): CheckpointInfo {
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

export async function getExperimentSummary(q: Queryable, id: number): Promise<ExperimentSummary | null> {
  const r = await q.query(`SELECT ${EXPERIMENT_COLUMNS} FROM experiments e WHERE e.id = $1`, [id]);
  return r.rows[0] ? toExperimentSummary(r.rows[0]) : null;
}

export async function getTrialSummary(q: Queryable, id: number): Promise<TrialSummary | null> {
  const r = await q.query(`SELECT ${TRIAL_COLUMNS} FROM trials t WHERE t.id = $1`, [id]);
  return r.rows[0] ? toTrialSummary(r.rows[0]) : null;
}
