-- Instances the provisioner launched for resource pools with a provider: the source of truth for what exists, what
-- is on its way and what is being given back. A row is written (with its idempotency key) BEFORE the cloud is asked,
-- so a master killed mid-launch finds the row and repeats the launch with the same key instead of launching twice.
-- `id` is also the id of the agent the instance runs. States move forward only:
-- requested -> launching -> running <-> idle -> terminating -> terminated (any state may go to terminating/terminated).
CREATE TABLE provisioner_identity (
  singleton BOOLEAN PRIMARY KEY DEFAULT true,
  -- Names this master in cloud tags: instances tagged with another master's id are never touched.
  master_id TEXT NOT NULL
);

CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  pool TEXT NOT NULL,
  provider TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  cloud_id TEXT,
  state TEXT NOT NULL,
  instance_type TEXT NOT NULL,
  slots INTEGER NOT NULL,
  -- Why it is in its state: launch reason, or terminate reason (idle, start-timeout, launch-error, vanished, ...).
  reason TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  registered_at TIMESTAMPTZ,
  idle_since TIMESTAMPTZ,
  terminated_at TIMESTAMPTZ
);
CREATE INDEX instances_pool_state ON instances (pool, state);

CREATE TABLE instance_history (
  id BIGSERIAL PRIMARY KEY,
  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  from_state TEXT,
  to_state TEXT NOT NULL,
  reason TEXT,
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX instance_history_instance ON instance_history (instance_id, id);
