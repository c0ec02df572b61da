-- Background jobs as an outbox: a job's intent is a row written in the same transaction as the change that causes
-- it (an experiment's end, a deletion request, a state change a webhook listens to). The relay runs it in-process
-- or hands it to BullMQ; the row is deleted only once its handler has finished, so a master killed mid-job runs it
-- again after restart (handlers are idempotent). A job that used up its attempts stays, state FAILED, for the record.
CREATE TABLE jobs (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  payload JSONB NOT NULL DEFAULT '{}',
  -- At most one pending job per key (one GC, one deletion per experiment): writing the same intent again is a no-op.
  dedupe_key TEXT,
  state TEXT NOT NULL DEFAULT 'PENDING',
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 10,
  run_after TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE state = 'PENDING';
CREATE INDEX jobs_due ON jobs (run_after) WHERE state = 'PENDING';

-- Why the last deletion of an experiment failed (state DELETE_FAILED); cleared when it is asked again.
ALTER TABLE experiments ADD COLUMN delete_error TEXT;

-- Webhooks: a signed JSON POST for each experiment state change in `triggers`, for one experiment or (NULL) all.
CREATE TABLE webhooks (
  id BIGSERIAL PRIMARY KEY,
  url TEXT NOT NULL,
  triggers TEXT[] NOT NULL,
  experiment_id BIGINT REFERENCES experiments (id) ON DELETE CASCADE,
  -- The HMAC-SHA256 key of the X-Hone-Signature header; shown once, at creation.
  secret TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every delivery attempt: its answer's status code, or the error that kept it from one.
CREATE TABLE webhook_deliveries (
  id BIGSERIAL PRIMARY KEY,
  webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  experiment_id BIGINT,
  trigger_state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status_code INTEGER,
  error TEXT,
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
