// Model registry repository: the only code that reads or writes `models` and `model_versions`. A version keeps a
// copy of its source (trial, hyperparameters, metrics); its checkpoint is exempt from garbage collection
// (see listCollectable in ./checkpoints).
import type { ModelInfo, ModelVersion, Page } from '@hone/protocol';
import type { Queryable } from './database';
import { iso } from './sql';

const MODEL_COLUMNS = `m.id, m.name, m.description, m.owner, m.labels, m.created_at, m.updated_at,
  (SELECT count(*) FROM model_versions v WHERE v.model_id = m.id) AS num_versions,
  (SELECT max(v.version) FROM model_versions v WHERE v.model_id = m.id) AS latest_version`;

function toModel(r: any): ModelInfo {
  return {
    id: Number(r.id),
    name: r.name,
    description: r.description,
    owner: r.owner,
    labels: r.labels ?? [],
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    numVersions: Number(r.num_versions ?? 0),
    latestVersion: r.latest_version == null ? null : Number(r.latest_version),
  };
}

const VERSION_COLUMNS = `m.name AS model_name, v.version, v.checkpoint_uuid, v.registered_by, v.registered_at, v.notes, v.trial_id,
  v.experiment_id, v.hparams, v.steps_completed, v.validation_metrics, v.training_metrics,
  coalesce((SELECT c.state FROM checkpoints c WHERE c.uuid = v.checkpoint_uuid), 'DELETED') AS checkpoint_state`;

function toVersion(r: any): ModelVersion {
  return {
    model: r.model_name,
    version: Number(r.version),
    checkpointUuid: r.checkpoint_uuid,
    registeredBy: r.registered_by,
    registeredAt: iso(r.registered_at),
    notes: r.notes,
    trialId: Number(r.trial_id),
    experimentId: Number(r.experiment_id),
    hparams: r.hparams,
    stepsCompleted: Number(r.steps_completed),
    validationMetrics: r.validation_metrics ?? null,
    trainingMetrics: r.training_metrics ?? null,
    checkpointState: r.checkpoint_state,
  };
}

/** Creates a model; null when the name is taken. */
export async function insertModel(q: Queryable, m: { name: string; description: string; owner: string; labels: string[] }): Promise<ModelInfo | null> {
  const r = await q.query('INSERT INTO models (name, description, owner, labels) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (name) DO NOTHING RETURNING id', [
    m.name,
    m.description,
    m.owner,
    JSON.stringify(m.labels),
  ]);
  return r.rows[0] ? getModel(q, m.name) : null;
}

export async function getModel(q: Queryable, name: string): Promise<ModelInfo | null> {
  const r = await q.query(`SELECT ${MODEL_COLUMNS} FROM models m WHERE m.name = $1`, [name]);
  return r.rows[0] ? toModel(r.rows[0]) : null;
}

export async function listModels(q: Queryable, f: { name?: string; offset: number; limit: number }): Promise<Page<ModelInfo>> {
  const params: unknown[] = [];
  let w = '';
  if (f.name) {
    params.push(`%${f.name.replace(/[%_\\]/g, (c) => `\\${c}`)}%`);
    w = 'WHERE m.name ILIKE $1';
  }
  const total = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM models m ${w}`, params);
  const rows = await q.query(`SELECT ${MODEL_COLUMNS} FROM models m ${w} ORDER BY m.name LIMIT ${Math.trunc(f.limit)} OFFSET ${Math.trunc(f.offset)}`, params);
  return { items: rows.rows.map(toModel), total: total.rows[0]!.n, offset: f.offset, limit: f.limit };
}

export async function editModel(q: Queryable, name: string, e: { description?: string; labels?: string[] }): Promise<boolean> {
  const r = await q.query(
    `UPDATE models SET description = coalesce($2, description), labels = coalesce($3::jsonb, labels), updated_at = now() WHERE name = $1 RETURNING id`,
    [name, e.description ?? null, e.labels ? JSON.stringify(e.labels) : null],
  );
  return r.rows.length > 0;
}

/**
 * Registers checkpoint `uuid` as the model's next version, copying its source (trial, hyperparameters, and the
 * metrics at its step, else the trial's latest). Returns null when the model or the checkpoint does not exist.
 * Run it in a transaction: the model row is locked so that concurrent registrations number in order.
 */
export async function insertModelVersion(q: Queryable, model: string, uuid: string, by: string, notes: string): Promise<ModelVersion | null> {
  const m = await q.query<{ id: number }>('SELECT id FROM models WHERE name = $1 FOR UPDATE', [model]);
  if (!m.rows[0]) return null;
  const modelId = Number(m.rows[0].id);
  const r = await q.query<{ version: number }>(
    `INSERT INTO model_versions (model_id, version, checkpoint_uuid, registered_by, notes, trial_id, experiment_id, hparams, steps_completed,
                                 validation_metrics, training_metrics)
     SELECT $1, coalesce((SELECT max(version) FROM model_versions WHERE model_id = $1), 0) + 1, c.uuid, $3, $4, c.trial_id, c.experiment_id,
            t.hparams, c.steps_completed,
            coalesce((SELECT mm.metrics FROM metrics mm WHERE mm.trial_id = c.trial_id AND mm.grp = 'validation' AND mm.steps_completed = c.steps_completed
                        AND NOT mm.superseded ORDER BY mm.id DESC LIMIT 1), t.latest_validation),
            coalesce((SELECT mm.metrics FROM metrics mm WHERE mm.trial_id = c.trial_id AND mm.grp = 'training' AND mm.steps_completed <= c.steps_completed
                        AND NOT mm.superseded ORDER BY mm.steps_completed DESC, mm.id DESC LIMIT 1), t.latest_training)
       FROM checkpoints c JOIN trials t ON t.id = c.trial_id WHERE c.uuid = $2
     RETURNING version`,
    [modelId, uuid, by, notes],
  );
  if (!r.rows[0]) return null;
  await q.query('UPDATE models SET updated_at = now() WHERE id = $1', [modelId]);
  return getModelVersion(q, model, Number(r.rows[0].version));
}

export async function getModelVersion(q: Queryable, model: string, version: number): Promise<ModelVersion | null> {
  const r = await q.query(`SELECT ${VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2`, [model, version]);
  return r.rows[0] ? toVersion(r.rows[0]) : null;
}

/** A model's versions, newest first. */
export async function listModelVersions(q: Queryable, model: string): Promise<ModelVersion[]> {
  const r = await q.query(`SELECT ${VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 ORDER BY v.version DESC`, [model]);
  return r.rows.map(toVersion);
}
