-- Hone schema, version 1. Forward-only: later changes go in new numbered files.

CREATE TABLE experiments (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  config JSONB NOT NULL,
  config_yaml TEXT NOT NULL,
  searcher_state JSONB,
  resource_pool TEXT NOT NULL,
  priority INTEGER NOT NULL,
  weight DOUBLE PRECISION NOT NULL,
  max_slots INTEGER,
  progress DOUBLE PRECISION NOT NULL DEFAULT 0,
  -- The searcher said `shutdown`: no new trials; the experiment completes when its trials end.
  searcher_done BOOLEAN NOT NULL DEFAULT false,
  best_metric DOUBLE PRECISION,
  owner TEXT NOT NULL DEFAULT 'admin',
  labels JSONB NOT NULL DEFAULT '[]',
  context_size BIGINT NOT NULL DEFAULT 0,
  start_time TIMESTAMPTZ NOT NULL DEFAULT now(),
  end_time TIMESTAMPTZ
);
CREATE INDEX experiments_state ON experiments (state);

CREATE TABLE experiment_contexts (
  experiment_id BIGINT PRIMARY KEY REFERENCES experiments (id) ON DELETE CASCADE,
  data BYTEA NOT NULL
);

CREATE TABLE trials (
  id BIGSERIAL PRIMARY KEY,
  experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  request_id TEXT NOT NULL,
  state TEXT NOT NULL,
  hparams JSONB NOT NULL,
  seed BIGINT NOT NULL,
  -- Length the searcher asked for, and length trained and validated (searcher units).
  target_length DOUBLE PRECISION NOT NULL DEFAULT 0,
  completed_length DOUBLE PRECISION NOT NULL DEFAULT 0,
  -- Set when the searcher sent `stop` (or the experiment ends): the trial gets no more work.
  closed BOOLEAN NOT NULL DEFAULT false,
  restarts INTEGER NOT NULL DEFAULT 0,
  best_validation DOUBLE PRECISION,
  latest_validation JSONB,
  latest_training JSONB,
  latest_checkpoint UUID,
  total_batches BIGINT NOT NULL DEFAULT 0,
  start_time TIMESTAMPTZ NOT NULL DEFAULT now(),
  end_time TIMESTAMPTZ,
  UNIQUE (experiment_id, request_id)
);
CREATE INDEX trials_experiment ON trials (experiment_id);
CREATE INDEX trials_state ON trials (state);

CREATE TABLE allocations (
  id TEXT PRIMARY KEY,
  trial_id BIGINT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  state TEXT NOT NULL,
  slots INTEGER NOT NULL,
  resource_pool TEXT NOT NULL,
  -- [{agentId, devices: number[]}] once assigned; rank i runs on the i-th device overall.
  placement JSONB,
  token TEXT NOT NULL,
  preempt_requested BOOLEAN NOT NULL DEFAULT false,
  kill_requested BOOLEAN NOT NULL DEFAULT false,
  rendezvous JSONB NOT NULL DEFAULT '{}',
  exit_reason TEXT,
  exit_code INTEGER,
  seq BIGSERIAL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at TIMESTAMPTZ,
  ended_at TIMESTAMPTZ
);
CREATE INDEX allocations_live ON allocations (state) WHERE state <> 'TERMINATED';
CREATE INDEX allocations_trial ON allocations (trial_id);

CREATE TABLE metrics (
  id BIGSERIAL PRIMARY KEY,
  trial_id BIGINT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  grp TEXT NOT NULL,
  steps_completed BIGINT NOT NULL,
  metrics JSONB NOT NULL,
  reported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX metrics_trial_group_steps ON metrics (trial_id, grp, steps_completed);

CREATE TABLE checkpoints (
  uuid UUID PRIMARY KEY,
  trial_id BIGINT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  allocation_id TEXT,
  steps_completed BIGINT NOT NULL,
  storage JSONB NOT NULL,
  resources JSONB NOT NULL,
  metadata JSONB NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'COMPLETED',
  reported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX checkpoints_trial ON checkpoints (trial_id);

CREATE TABLE task_logs (
  id BIGSERIAL PRIMARY KEY,
  trial_id BIGINT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  allocation_id TEXT,
  agent_id TEXT,
  rank INTEGER,
  stream TEXT NOT NULL,
  level TEXT NOT NULL DEFAULT 'INFO',
  ts TIMESTAMPTZ NOT NULL,
  line TEXT NOT NULL
);
CREATE INDEX task_logs_trial ON task_logs (trial_id, id);

CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  resource_pool TEXT NOT NULL,
  hostname TEXT NOT NULL DEFAULT '',
  devices JSONB NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  connected BOOLEAN NOT NULL DEFAULT false,
  last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
);
