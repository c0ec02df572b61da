// Experiments repository: the only code that reads or writes `experiments` and `experiment_contexts`.
// Functions take the Queryable to run on (the database, or a transaction) as their first argument.
import type { ExperimentConfig, ExperimentDetail, ExperimentState, ExperimentSummary, Page } from '@hone/protocol';
import { EXPERIMENT_STATES, TERMINAL_EXPERIMENT_STATES } from '@hone/protocol';
import type { SearcherAction, SearcherState } from '../searcher/types';
import { noteAllocationWrite } from './allocations';
import type { Queryable } from './database';
import { bestSql, iso, isoOrNull } from './sql';

/** The lifecycle view of an experiment: what the controller locks, reads and feeds to the searcher. */
export interface ExperimentRow {
  id: number;
  state: ExperimentState;
  config: ExperimentConfig;
  searcher_state: SearcherState;
  searcher_done: boolean;
  /** Searcher actions not applied yet (trials still to create in later batches), oldest first. */
  pending_actions: SearcherAction[] | null;
}

/** The stored config, typed: it was parsed and defaulted at submit time, so it is read back as it was written. */
export function storedConfig(raw: unknown): ExperimentConfig {
  return raw as ExperimentConfig;
}

const SUMMARY_COLUMNS = `e.id, e.name, e.state, e.searcher_name, e.searcher_metric, e.smaller_is_better, e.resource_pool, e.priority,
  e.weight, e.max_slots, e.progress, e.best_metric, e.owner, e.labels, e.start_time, e.end_time, e.delete_error,
  e.description, e.archived, e.forked_from, e.source_trial_id, (SELECT p.name FROM projects p WHERE p.id = e.project_id) AS project,
  (SELECT count(*) FROM trials t WHERE t.experiment_id = e.id) AS num_trials,
  (SELECT coalesce(jsonb_object_agg(s.state, s.n), '{}'::jsonb) FROM
     (SELECT t.state, count(*) AS n FROM trials t WHERE t.experiment_id = e.id GROUP BY t.state) s) AS trial_states`;

function toSummary(r: any): ExperimentSummary {
  return {
    id: Number(r.id),
    name: r.name,
    state: r.state as ExperimentState,
    searcher: r.searcher_name,
    metric: r.searcher_metric,
    smallerIsBetter: r.smaller_is_better,
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
    ...(r.delete_error ? { deleteError: r.delete_error } : {}),
    description: r.description ?? '',
    project: r.project ?? 'default',
    archived: r.archived ?? false,
    forkedFrom: r.forked_from == null ? null : Number(r.forked_from),
    sourceTrialId: r.source_trial_id == null ? null : Number(r.source_trial_id),
  };
}

export interface NewExperiment {
  config: ExperimentConfig;
  configYaml: string;
  state: ExperimentState;
  owner: string;
  context: Buffer | null;
  /** Project id (projects repository); the `default` project when absent. */
  projectId?: number;
  forkedFrom?: number | null;
  sourceTrialId?: number | null;
  sourceCheckpointUuid?: string | null;
}

export async function insertExperiment(q: Queryable, e: NewExperiment): Promise<number> {
  const { config } = e;
  const r = await q.query<{ id: number }>(
    `INSERT INTO experiments (name, state, config, config_yaml, resource_pool, priority, weight, max_slots, owner, labels, context_size,
                              searcher_name, searcher_metric, smaller_is_better, slots_per_trial,
                              project_id, description, forked_from, source_trial_id, source_checkpoint_uuid)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
             coalesce($16::bigint, (SELECT id FROM projects WHERE name = 'default')), $17, $18, $19, $20) RETURNING id`,
    [
      config.name,
      e.state,
      JSON.stringify(config),
      e.configYaml,
      config.resources.resource_pool,
      config.resources.priority,
      config.resources.weight,
      config.resources.max_slots ?? null,
      e.owner,
      JSON.stringify(config.labels),
      e.context?.length ?? 0,
      config.searcher.name,
      config.searcher.metric,
      config.searcher.smaller_is_better,
      config.resources.slots_per_trial,
      e.projectId ?? null,
      config.description ?? '',
      e.forkedFrom ?? null,
      e.sourceTrialId ?? null,
      e.sourceCheckpointUuid ?? null,
    ],
  );
  const id = r.rows[0]!.id;
  if (e.context) await q.query('INSERT INTO experiment_contexts (experiment_id, data) VALUES ($1, $2)', [id, e.context]);
  return id;
}

/** Reads (and, in a transaction, row-locks) the lifecycle view of an experiment. */
export async function lockExperiment(q: Queryable, id: number, forUpdate = true): Promise<ExperimentRow | null> {
  const r = await q.query<ExperimentRow>(
    `SELECT id, state, config, searcher_state, searcher_done, pending_actions FROM experiments WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  const row = r.rows[0];
  return row ? { ...row, config: storedConfig(row.config) } : null;
}

export async function saveSearcher(q: Queryable, id: number, state: SearcherState, done: boolean, progress: number, pending: SearcherAction[] = []): Promise<void> {
  await q.query('UPDATE experiments SET searcher_state = $2, searcher_done = $3, progress = $4, pending_actions = $5 WHERE id = $1', [
    id,
    JSON.stringify(state),
    done,
    progress,
    pending.length ? JSON.stringify(pending) : null,
  ]);
}

/** Experiments with searcher actions still to apply (see pending_actions), oldest first. */
export async function experimentsWithPendingActions(q: Queryable): Promise<number[]> {
  const r = await q.query<{ id: number }>('SELECT id FROM experiments WHERE pending_actions IS NOT NULL ORDER BY id');
  return r.rows.map((x) => Number(x.id));
}

export async function setProgress(q: Queryable, id: number, progress: number): Promise<void> {
  await q.query('UPDATE experiments SET progress = $2 WHERE id = $1', [id, progress]);
}

/** Sets the state; a terminal state stamps the end time, COMPLETED also sets progress to 1. */
export async function setExperimentState(q: Queryable, id: number, state: ExperimentState): Promise<void> {
  const terminal = TERMINAL_EXPERIMENT_STATES.includes(state);
  await q.query(
    `UPDATE experiments SET state = $2, end_time = ${terminal ? 'now()' : 'NULL'}${state === 'COMPLETED' ? ', progress = 1' : ''} WHERE id = $1`,
    [id, state],
  );
}

/** Folds validation values of the searcher metric into the experiment's best, in the searcher's direction. */
export async function recordBestMetric(q: Queryable, id: number, values: number | number[]): Promise<void> {
  const list = Array.isArray(values) ? values : [values];
  if (!list.length) return;
  const batchBest = `(SELECT CASE WHEN smaller_is_better THEN min(v) ELSE max(v) END FROM unnest($2::float8[]) AS v)`;
  await q.query(`UPDATE experiments SET best_metric = ${bestSql('best_metric', batchBest, 'smaller_is_better')} WHERE id = $1`, [id, list]);
}

/** Updates one scheduling field (priority, weight, max_slots) and the stored config that shows it. */
export async function setSchedulingField(q: Queryable, id: number, field: 'priority' | 'weight' | 'max_slots', value: number | null, config: ExperimentConfig): Promise<void> {
  const column = { priority: 'priority', weight: 'weight', max_slots: 'max_slots' }[field];
  await q.query(`UPDATE experiments SET ${column} = $2, config = $3 WHERE id = $1`, [id, value, JSON.stringify(config)]);
  // Live allocations carry their experiment's scheduling settings.
  noteAllocationWrite(q, { experimentId: id });
}

export async function getExperimentSummary(q: Queryable, id: number): Promise<ExperimentSummary | null> {
  const r = await q.query(`SELECT ${SUMMARY_COLUMNS} FROM experiments e WHERE e.id = $1`, [id]);
  return r.rows[0] ? toSummary(r.rows[0]) : null;
}

export async function experimentExists(q: Queryable, id: number): Promise<boolean> {
  const r = await q.query('SELECT 1 FROM experiments WHERE id = $1', [id]);
  return r.rows.length > 0;
}

/** The summary plus config, YAML and searcher state (for the detail view); trials come from the trials repository. */
export async function getExperimentDetail(q: Queryable, id: number): Promise<(Omit<ExperimentDetail, 'trials'> & { searcherState: SearcherState | null }) | null> {
  const r = await q.query(
    `SELECT ${SUMMARY_COLUMNS}, e.config, e.config_yaml, e.searcher_state, e.notes, e.source_checkpoint_uuid FROM experiments e WHERE e.id = $1`,
    [id],
  );
  const row = r.rows[0];
  if (!row) return null;
  return {
    ...toSummary(row),
    config: storedConfig(row.config),
    configYaml: row.config_yaml,
    searcherState: row.searcher_state ?? null,
    notes: row.notes ?? '',
    sourceCheckpointUuid: row.source_checkpoint_uuid ?? null,
  };
}

export async function getExperimentConfig(q: Queryable, id: number): Promise<ExperimentConfig | null> {
  const r = await q.query<{ config: unknown }>('SELECT config FROM experiments WHERE id = $1', [id]);
  return r.rows[0] ? storedConfig(r.rows[0].config) : null;
}

/** Sortable columns of the experiment list, by the API's sort key. */
export const EXPERIMENT_SORTS = {
  id: 'e.id',
  name: 'e.name',
  state: 'e.state',
  startTime: 'e.start_time',
  endTime: 'e.end_time',
  bestMetric: 'e.best_metric',
  numTrials: 'num_trials',
  progress: 'e.progress',
  searcher: 'e.searcher_name',
  resourcePool: 'e.resource_pool',
  user: 'e.owner',
} as const;
export type ExperimentSort = keyof typeof EXPERIMENT_SORTS;

export interface ExperimentFilter {
  states?: ExperimentState[];
  /** Substring of the name, case-insensitive. */
  name?: string;
  searcher?: string;
  /** Owner's user name. */
  user?: string;
  /** Project id; archived: false (default) hides archived experiments, true shows only them, 'all' both. */
  projectId?: number;
  archived?: boolean | 'all';
  label?: string;
  sort: ExperimentSort;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export async function listExperiments(q: Queryable, f: ExperimentFilter): Promise<Page<ExperimentSummary>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.states?.length) {
    params.push(f.states);
    where.push(`e.state = ANY($${params.length})`);
  }
  if (f.name) {
    params.push(`%${f.name.replace(/[%_\\]/g, (c) => `\\${c}`)}%`);
    where.push(`e.name ILIKE $${params.length}`);
  }
  if (f.searcher) {
    params.push(f.searcher);
    where.push(`e.searcher_name = $${params.length}`);
  }
  if (f.user) {
    params.push(f.user);
    where.push(`e.owner = $${params.length}`);
  }
  if (f.projectId !== undefined) {
    params.push(f.projectId);
    where.push(`e.project_id = $${params.length}`);
  }
  if (f.archived !== 'all') where.push(f.archived === true ? 'e.archived' : 'NOT e.archived');
  if (f.label) {
    params.push(JSON.stringify([f.label]));
    where.push(`e.labels @> $${params.length}::jsonb`);
  }
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM experiments e ${w}`, params);
  const rows = await q.query(
    `SELECT ${SUMMARY_COLUMNS} FROM experiments e ${w} ORDER BY ${EXPERIMENT_SORTS[f.sort]} ${f.order === 'asc' ? 'ASC' : 'DESC'} NULLS LAST, e.id DESC
     LIMIT ${Math.trunc(f.limit)} OFFSET ${Math.trunc(f.offset)}`,
    params,
  );
  return { items: rows.rows.map(toSummary), total: total.rows[0]!.n, offset: f.offset, limit: f.limit };
}

/** Experiments that are not in a terminal state (re-evaluated at start-up). */
export async function unfinishedExperimentIds(q: Queryable): Promise<number[]> {
  const r = await q.query<{ id: number }>(`SELECT id FROM experiments WHERE state NOT IN ('COMPLETED','CANCELED','ERROR','DELETING','DELETE_FAILED') ORDER BY id`);
  return r.rows.map((x) => Number(x.id));
}

/** The model directory archive, or null when the experiment was submitted without one. */
export async function getContext(q: Queryable, id: number): Promise<Buffer | null> {
  const r = await q.query<{ data: Buffer | Uint8Array }>('SELECT data FROM experiment_contexts WHERE experiment_id = $1', [id]);
  return r.rows[0] ? Buffer.from(r.rows[0].data) : null;
}

/** The searcher's metric and its direction. */
export async function getSearcherMetric(q: Queryable, id: number): Promise<{ metric: string; smallerIsBetter: boolean } | null> {
  const r = await q.query<{ searcher_metric: string; smaller_is_better: boolean }>('SELECT searcher_metric, smaller_is_better FROM experiments WHERE id = $1', [id]);
  return r.rows[0] ? { metric: r.rows[0].searcher_metric, smallerIsBetter: r.rows[0].smaller_is_better } : null;
}

export async function countExperimentsByState(q: Queryable): Promise<Array<{ state: ExperimentState; n: number }>> {
  const r = await q.query<{ state: ExperimentState; n: number }>('SELECT state, count(*)::int AS n FROM experiments GROUP BY state');
  return r.rows;
}

export function isExperimentState(s: string): s is ExperimentState {
  return (EXPERIMENT_STATES as readonly string[]).includes(s);
}

/** Enters DELETING (clearing the last failure) or DELETE_FAILED with its reason; the end time stays. */
export async function setDeletionState(q: Queryable, id: number, state: 'DELETING' | 'DELETE_FAILED', error: string | null): Promise<void> {
  await q.query('UPDATE experiments SET state = $2, delete_error = $3 WHERE id = $1', [id, state, error]);
}

/**
 * Deletes an experiment's rows: its metrics, logs, checkpoints, allocations, trials, audit entries, webhooks and
 * stored model directory go with it (each references the experiment or its trials ON DELETE CASCADE).
 * Call it only once the files those rows point at are gone.
 */
export async function deleteExperimentRows(q: Queryable, id: number): Promise<boolean> {
  const r = await q.query('DELETE FROM experiments WHERE id = $1', [id]);
  noteAllocationWrite(q, { experimentId: id });
  return r.rowCount > 0;
}

/** The model directory's sha256 (hex), or null when the experiment was submitted without one. */
export async function getContextDigest(q: Queryable, id: number): Promise<string | null> {
  const r = await q.query<{ digest: string }>(`SELECT encode(sha256(data), 'hex') AS digest FROM experiment_contexts WHERE experiment_id = $1`, [id]);
  return r.rows[0]?.digest ?? null;
}

/** Edits of an experiment's descriptive fields (name, description, notes, labels, archived, project). */
export interface ExperimentEdit {
  name?: string;
  description?: string;
  notes?: string;
  labels?: string[];
  archived?: boolean;
  projectId?: number;
}

/** Applies an edit; the stored config keeps name, description and labels in step with the columns. */
export async function editExperiment(q: Queryable, id: number, e: ExperimentEdit): Promise<boolean> {
  const sets: string[] = [];
  const params: unknown[] = [id];
  let config = 'config';
  const set = (col: string, v: unknown, cast = ''): string => {
    params.push(v);
    sets.push(`${col} = $${params.length}${cast}`);
    return `$${params.length}${cast}`;
  };
  if (e.name !== undefined) config = `jsonb_set(${config}, '{name}', to_jsonb(${set('name', e.name, '::text')}))`;
  if (e.description !== undefined) config = `jsonb_set(${config}, '{description}', to_jsonb(${set('description', e.description, '::text')}))`;
  if (e.labels !== undefined) config = `jsonb_set(${config}, '{labels}', ${set('labels', JSON.stringify(e.labels), '::jsonb')})`;
  if (e.notes !== undefined) set('notes', e.notes);
  if (e.archived !== undefined) set('archived', e.archived);
  if (e.projectId !== undefined) set('project_id', e.projectId);
  if (!sets.length) return experimentExists(q, id);
  if (config !== 'config') sets.push(`config = ${config}`);
  const r = await q.query(`UPDATE experiments SET ${sets.join(', ')} WHERE id = $1 RETURNING id`, params);
  return r.rows.length > 0;
}

/** What a warm-started or forked experiment starts from (set at insert). */
export async function getWarmStart(q: Queryable, id: number): Promise<{ sourceTrialId: number | null; sourceCheckpointUuid: string | null } | null> {
  const r = await q.query<{ source_trial_id: number | null; source_checkpoint_uuid: string | null }>(
    'SELECT source_trial_id, source_checkpoint_uuid FROM experiments WHERE id = $1',
    [id],
  );
  const row = r.rows[0];
  return row ? { sourceTrialId: row.source_trial_id == null ? null : Number(row.source_trial_id), sourceCheckpointUuid: row.source_checkpoint_uuid ?? null } : null;
}
