// Trials repository: the only code that writes `trials`, except the metric summary columns (latest_training,
// latest_validation, best_validation, total_batches), which belong to the metrics repository that fills them in
// the same statement as the points, and `latest_checkpoint`, set here for the checkpoints family.
import type { HParams } from '@hone/protocol';
import type { ExperimentState, ReproducibilityRecord, TrialState, TrialSummary } from '@hone/protocol';
import type { Queryable } from './database';
import { iso, isoOrNull } from './sql';

export const SUMMARY_COLUMNS = `t.id, t.experiment_id, t.request_id, t.state, t.hparams, t.seed, t.target_length, t.completed_length,
  t.trained_length, t.failure, t.restarts, t.best_validation, t.latest_validation, t.latest_training, t.latest_checkpoint,
  t.start_time, t.end_time, t.closed`;

export function toSummary(r: any): TrialSummary {
  return {
    id: Number(r.id),
    experimentId: Number(r.experiment_id),
    requestId: r.request_id,
    state: r.state as TrialState,
    hparams: r.hparams,
    seed: Number(r.seed),
    targetLength: r.target_length,
    completedLength: r.completed_length,
    trainedLength: Math.max(r.trained_length ?? 0, r.completed_length),
    restarts: r.restarts,
    failure: r.failure ?? null,
    bestValidation: r.best_validation ?? null,
    latestValidation: r.latest_validation ?? null,
    latestTraining: r.latest_training ?? null,
    latestCheckpoint: r.latest_checkpoint ?? null,
    startTime: iso(r.start_time),
    endTime: isoOrNull(r.end_time),
  };
}

const NOT_ENDED = `('COMPLETED','CANCELED','ERROR')`;

/** The lifecycle view of a trial, as the controller locks it. */
export interface TrialRow {
  id: number;
  experiment_id: number;
  request_id: string;
  state: TrialState;
  closed: boolean;
  restarts: number;
  target_length: number;
  completed_length: number;
}

/** Creates the searcher's trial once: a repeated request id (a replayed action) creates nothing and returns null. */
export async function insertTrial(
  q: Queryable,
  experimentId: number,
  requestId: string,
  hparams: HParams,
  seed: number,
  state: 'ACTIVE' | 'PAUSED' = 'ACTIVE',
): Promise<number | null> {
  const r = await q.query<{ id: number }>(
    `INSERT INTO trials (experiment_id, request_id, state, hparams, seed, source_checkpoint_uuid)
     VALUES ($1, $2, $5, $3, $4, (SELECT source_checkpoint_uuid FROM experiments WHERE id = $1))
     ON CONFLICT (experiment_id, request_id) DO NOTHING RETURNING id`,
    [experimentId, requestId, JSON.stringify(hparams), seed, state],
  );
  return r.rows[0] ? Number(r.rows[0].id) : null;
}

/** The searcher asked for training to `length`; lengths only grow. Returns the trial id, or null if it is closed. */
export async function raiseTargetLength(q: Queryable, experimentId: number, requestId: string, length: number): Promise<number | null> {
  const r = await q.query<{ id: number }>(
    `UPDATE trials SET target_length = GREATEST(target_length, $3) WHERE experiment_id = $1 AND request_id = $2 AND NOT closed RETURNING id`,
    [experimentId, requestId, length],
  );
  return r.rows[0] ? Number(r.rows[0].id) : null;
}

/** The searcher stopped the trial: it gets no more work. */
export async function closeTrial(q: Queryable, experimentId: number, requestId: string): Promise<{ id: number; state: TrialState } | null> {
  const r = await q.query<{ id: number; state: TrialState }>(
    `UPDATE trials SET closed = true WHERE experiment_id = $1 AND request_id = $2 RETURNING id, state`,
    [experimentId, requestId],
  );
  return r.rows[0] ? { id: Number(r.rows[0].id), state: r.rows[0].state } : null;
}

export async function closeAllTrials(q: Queryable, experimentId: number): Promise<void> {
  await q.query('UPDATE trials SET closed = true WHERE experiment_id = $1', [experimentId]);
}

/** Ends a trial in `state` unless it has already ended. */
export async function endTrial(q: Queryable, trialId: number, state: TrialState): Promise<void> {
  await q.query(`UPDATE trials SET state = $2, closed = true, end_time = now() WHERE id = $1 AND state NOT IN ${NOT_ENDED}`, [trialId, state]);
}

/** Ends every trial of the experiment that has not ended, in `state`. */
export async function endLiveTrials(q: Queryable, experimentId: number, state: TrialState): Promise<void> {
  await q.query(`UPDATE trials SET state = $2, closed = true, end_time = now() WHERE experiment_id = $1 AND state NOT IN ${NOT_ENDED}`, [experimentId, state]);
}

export async function countTrials(q: Queryable, experimentId: number): Promise<{ total: number; live: number; errored: number }> {
  const r = await q.query<{ total: number; live: number; errored: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE state NOT IN ${NOT_ENDED})::int AS live,
            count(*) FILTER (WHERE state = 'ERROR')::int AS errored
       FROM trials WHERE experiment_id = $1`,
    [experimentId],
  );
  return r.rows[0]!;
}

export async function lockTrial(q: Queryable, trialId: number): Promise<TrialRow | null> {
  const r = await q.query<TrialRow>(
    'SELECT id, experiment_id, request_id, state, closed, restarts, target_length, completed_length FROM trials WHERE id = $1 FOR UPDATE',
    [trialId],
  );
  const t = r.rows[0];
  return t ? { ...t, id: Number(t.id), experiment_id: Number(t.experiment_id) } : null;
}

export async function setCompletedLength(q: Queryable, trialId: number, length: number): Promise<void> {
  await q.query('UPDATE trials SET completed_length = $2, trained_length = GREATEST(trained_length, $2) WHERE id = $1', [trialId, length]);
}

/**
 * The harness reports how far its current operation has trained (searcher units). Only the current run's
 * report counts, so after a resume from an older checkpoint the length follows the resumed run: it may go back.
 * Returns false when the trial is not running (ended, or the length is beyond what the searcher asked for).
 */
export async function setTrainedLength(q: Queryable, trialId: number, length: number): Promise<boolean> {
  const r = await q.query(
    `UPDATE trials SET trained_length = GREATEST($2, completed_length) WHERE id = $1 AND state NOT IN ${NOT_ENDED} AND $2 <= target_length RETURNING id`,
    [trialId, length],
  );
  return r.rows.length > 0;
}

/** Records why the trial's latest run failed (null clears it, e.g. when the trial completes). */
export async function setFailure(q: Queryable, trialId: number, failure: string | null): Promise<void> {
  await q.query('UPDATE trials SET failure = $2 WHERE id = $1', [trialId, failure]);
}

/** Trial states follow a paused experiment: ACTIVE trials become PAUSED, and back when it is activated. */
export async function setLiveTrialStates(q: Queryable, experimentId: number, from: TrialState, to: TrialState): Promise<number[]> {
  const r = await q.query<{ id: number }>('UPDATE trials SET state = $3 WHERE experiment_id = $1 AND state = $2 RETURNING id', [experimentId, from, to]);
  return r.rows.map((x) => Number(x.id));
}

/** Length trained beyond the last completed operation, by request id, for trials that are still running it. */
export async function lengthsInFlight(q: Queryable, experimentId: number): Promise<Record<string, number>> {
  const r = await q.query<{ request_id: string; extra: number }>(
    `SELECT request_id, trained_length - completed_length AS extra FROM trials
      WHERE experiment_id = $1 AND state NOT IN ${NOT_ENDED} AND trained_length > completed_length`,
    [experimentId],
  );
  return Object.fromEntries(r.rows.map((x) => [x.request_id, Number(x.extra)]));
}

export async function setRestarts(q: Queryable, trialId: number, restarts: number): Promise<void> {
  await q.query('UPDATE trials SET restarts = $2 WHERE id = $1', [trialId, restarts]);
}

/** Points the trial at a newer checkpoint; an older one (by steps) never replaces a newer one. */
export async function setLatestCheckpoint(q: Queryable, trialId: number, uuid: string, stepsCompleted: number): Promise<void> {
  await q.query(
    `UPDATE trials SET latest_checkpoint = $2 WHERE id = $1 AND (latest_checkpoint IS NULL OR
       (SELECT steps_completed FROM checkpoints WHERE uuid = trials.latest_checkpoint) <= $3)`,
    [trialId, uuid, stepsCompleted],
  );
}

export async function getTrialSummary(q: Queryable, id: number): Promise<TrialSummary | null> {
  const r = await q.query(`SELECT ${SUMMARY_COLUMNS} FROM trials t WHERE t.id = $1`, [id]);
  return r.rows[0] ? toSummary(r.rows[0]) : null;
}

/** Summaries of these trials (those that exist), in id order: one query for many. */
export async function getTrialSummaries(q: Queryable, ids: number[]): Promise<TrialSummary[]> {
  if (!ids.length) return [];
  const r = await q.query(`SELECT ${SUMMARY_COLUMNS} FROM trials t WHERE t.id = ANY($1::bigint[]) ORDER BY t.id`, [ids]);
  return r.rows.map(toSummary);
}

export async function trialExists(q: Queryable, id: number): Promise<boolean> {
  const r = await q.query('SELECT 1 FROM trials WHERE id = $1', [id]);
  return r.rows.length > 0;
}

export async function listTrials(q: Queryable, experimentId: number): Promise<TrialSummary[]> {
  const r = await q.query(`SELECT ${SUMMARY_COLUMNS} FROM trials t WHERE t.experiment_id = $1 ORDER BY t.id`, [experimentId]);
  return r.rows.map(toSummary);
}

/** The experiment a trial belongs to and its searcher metric (never change after creation). */
export async function getTrialMetricInfo(q: Queryable, trialId: number): Promise<{ experimentId: number; metric: string; smallerIsBetter: boolean } | null> {
  const r = await q.query<{ experiment_id: number; searcher_metric: string; smaller_is_better: boolean }>(
    'SELECT t.experiment_id, e.searcher_metric, e.smaller_is_better FROM trials t JOIN experiments e ON e.id = t.experiment_id WHERE t.id = $1',
    [trialId],
  );
  const row = r.rows[0];
  return row ? { experimentId: Number(row.experiment_id), metric: row.searcher_metric, smallerIsBetter: row.smaller_is_better } : null;
}

/** Trials of ACTIVE experiments that have work left and no live allocation: each needs one. */
export async function trialsWantingAllocation(q: Queryable): Promise<Array<{ id: number; experimentId: number; slots: number; pool: string }>> {
  const r = await q.query<{ id: number; experiment_id: number; slots: number; pool: string }>(
    `SELECT t.id, t.experiment_id, e.slots_per_trial AS slots, e.resource_pool AS pool
       FROM trials t JOIN experiments e ON e.id = t.experiment_id
      WHERE e.state = 'ACTIVE' AND t.state = 'ACTIVE' AND NOT t.closed AND t.target_length > t.completed_length
        AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.trial_id = t.id AND a.state <> 'TERMINATED')
      ORDER BY t.id`,
  );
  return r.rows.map((x) => ({ id: Number(x.id), experimentId: Number(x.experiment_id), slots: x.slots, pool: x.pool }));
}

/** What the harness's searcher-operation long-poll needs: the trial's work and its experiment's state. */
export async function getOperationState(
  q: Queryable,
  trialId: number,
): Promise<{ targetLength: number; completedLength: number; closed: boolean; state: TrialState; experimentState: ExperimentState } | null> {
  const r = await q.query<{ target_length: number; completed_length: number; closed: boolean; state: TrialState; exp_state: ExperimentState }>(
    `SELECT t.target_length, t.completed_length, t.closed, t.state, e.state AS exp_state
       FROM trials t JOIN experiments e ON e.id = t.experiment_id WHERE t.id = $1`,
    [trialId],
  );
  const t = r.rows[0];
  return t ? { targetLength: t.target_length, completedLength: t.completed_length, closed: t.closed, state: t.state, experimentState: t.exp_state } : null;
}

/** What a starting harness needs about its trial. */
export async function getTrialLaunchInfo(
  q: Queryable,
  trialId: number,
): Promise<{
  requestId: string;
  hparams: HParams;
  seed: number;
  completedLength: number;
  latestCheckpoint: string | null;
  /** The checkpoint a warm-started trial starts from until it has one of its own. */
  sourceCheckpoint: string | null;
} | null> {
  const r = await q.query<{
    request_id: string;
    hparams: HParams;
    seed: number;
    completed_length: number;
    latest_checkpoint: string | null;
    source_checkpoint_uuid: string | null;
  }>('SELECT request_id, hparams, seed, completed_length, latest_checkpoint, source_checkpoint_uuid FROM trials WHERE id = $1', [trialId]);
  const t = r.rows[0];
  return t
    ? {
        requestId: t.request_id,
        hparams: t.hparams,
        seed: Number(t.seed),
        completedLength: t.completed_length,
        latestCheckpoint: t.latest_checkpoint,
        sourceCheckpoint: t.source_checkpoint_uuid ?? null,
      }
    : null;
}

/** Metric names from each trial's latest reports (kept on the trial row), not from scanning every point. */
export async function getMetricNames(q: Queryable, experimentId: number): Promise<{ training: string[]; validation: string[] }> {
  const r = await q.query<{ grp: string; name: string }>(
    `SELECT DISTINCT 'training' AS grp, k AS name FROM trials t CROSS JOIN LATERAL jsonb_object_keys(coalesce(t.latest_training, '{}'::jsonb)) k
      WHERE t.experiment_id = $1
     UNION
     SELECT DISTINCT 'validation' AS grp, k AS name FROM trials t CROSS JOIN LATERAL jsonb_object_keys(coalesce(t.latest_validation, '{}'::jsonb)) k
      WHERE t.experiment_id = $1`,
    [experimentId],
  );
  const out = { training: [] as string[], validation: [] as string[] };
  for (const row of r.rows) (row.grp === 'training' ? out.training : out.validation).push(row.name);
  out.training.sort();
  out.validation.sort();
  return out;
}

/** The reproducibility record and warm-start source of a trial (for its detail view). */
export async function getTrialProvenance(
  q: Queryable,
  trialId: number,
): Promise<{ reproducibility: ReproducibilityRecord | null; sourceCheckpointUuid: string | null; sourceTrialId: number | null } | null> {
  const r = await q.query<{ reproducibility: ReproducibilityRecord | null; source_checkpoint_uuid: string | null; source_trial_id: number | null }>(
    `SELECT t.reproducibility, t.source_checkpoint_uuid, (SELECT c.trial_id FROM checkpoints c WHERE c.uuid = t.source_checkpoint_uuid) AS source_trial_id
       FROM trials t WHERE t.id = $1`,
    [trialId],
  );
  const row = r.rows[0];
  if (!row) return null;
  return {
    reproducibility: row.reproducibility ?? null,
    sourceCheckpointUuid: row.source_checkpoint_uuid ?? null,
    sourceTrialId: row.source_trial_id == null ? null : Number(row.source_trial_id),
  };
}

/** Records what the trial runs with (each run of rank 0 replaces the record of the run before). */
export async function recordReproducibility(q: Queryable, trialId: number, record: ReproducibilityRecord): Promise<void> {
  await q.query('UPDATE trials SET reproducibility = $2::jsonb WHERE id = $1', [trialId, JSON.stringify(record)]);
}

/** Completes the record with what the harness reports (versions, backend), for the allocation that took it. */
export async function completeReproducibility(q: Queryable, trialId: number, allocationId: string, fields: Record<string, string>): Promise<void> {
  await q.query(`UPDATE trials SET reproducibility = reproducibility || $3::jsonb WHERE id = $1 AND reproducibility->>'allocationId' = $2`, [
    trialId,
    allocationId,
    JSON.stringify(fields),
  ]);
}

/** Trial summaries by id (in the order asked; unknown ids left out), with their experiment's name and metric. */
export async function getTrialsWithExperiment(
  q: Queryable,
  ids: number[],
): Promise<Array<TrialSummary & { experimentName: string; metric: string; smallerIsBetter: boolean }>> {
  const r = await q.query(
    `SELECT ${SUMMARY_COLUMNS}, e.name AS experiment_name, e.searcher_metric, e.smaller_is_better
       FROM trials t JOIN experiments e ON e.id = t.experiment_id WHERE t.id = ANY($1::bigint[])`,
    [ids],
  );
  const byId = new Map(r.rows.map((row) => [Number(row.id), { ...toSummary(row), experimentName: row.experiment_name, metric: row.searcher_metric, smallerIsBetter: row.smaller_is_better }]));
  return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
}

/** Closes one trial (it gets no more work) and returns its lifecycle row, for a kill. */
export async function closeTrialById(q: Queryable, trialId: number): Promise<void> {
  await q.query('UPDATE trials SET closed = true WHERE id = $1', [trialId]);
}
