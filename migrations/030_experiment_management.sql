-- Experiment management: projects, archive and editing, fork / continue / warm start, the reproducibility record,
-- and the model registry.
CREATE TABLE projects (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT 'admin',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO projects (name, description) VALUES ('default', 'Experiments that name no project');

ALTER TABLE experiments ADD COLUMN project_id BIGINT REFERENCES projects (id);
UPDATE experiments SET project_id = (SELECT id FROM projects WHERE name = 'default');
ALTER TABLE experiments ALTER COLUMN project_id SET NOT NULL;
ALTER TABLE experiments ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE experiments ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN forked_from BIGINT REFERENCES experiments (id) ON DELETE SET NULL;
-- Warm start: the trial (continue, searcher.source_trial_id) and checkpoint every new trial starts from.
ALTER TABLE experiments ADD COLUMN source_trial_id BIGINT;
ALTER TABLE experiments ADD COLUMN source_checkpoint_uuid UUID;
UPDATE experiments SET description = coalesce(config->>'description', '');
CREATE INDEX experiments_project ON experiments (project_id, id);

-- The checkpoint a trial started from, and what it ran with (set at its first start, completed by the harness).
ALTER TABLE trials ADD COLUMN source_checkpoint_uuid UUID;
ALTER TABLE trials ADD COLUMN reproducibility JSONB;
CREATE INDEX trials_start_time ON trials (start_time);

CREATE TABLE models (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL,
  labels JSONB NOT NULL DEFAULT '[]',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A version keeps a copy of where its checkpoint came from (trial, hyperparameters, metrics), so it reads the same
-- after the source experiment is gone. Registered checkpoints are never garbage-collected.
CREATE TABLE model_versions (
  id BIGSERIAL PRIMARY KEY,
  model_id BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  checkpoint_uuid UUID NOT NULL,
  registered_by TEXT NOT NULL,
  registered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  notes TEXT NOT NULL DEFAULT '',
  trial_id BIGINT NOT NULL,
  experiment_id BIGINT NOT NULL,
  hparams JSONB NOT NULL,
  steps_completed BIGINT NOT NULL,
  validation_metrics JSONB,
  training_metrics JSONB,
  UNIQUE (model_id, version)
);
CREATE INDEX model_versions_checkpoint ON model_versions (checkpoint_uuid);
