-- Per-agent credentials. A new agent id joins with the cluster agent token; the master then issues it a secret
-- (32 random bytes) and keeps only its SHA-256 here. Every later hello for that id must present the secret.
-- `credential_confirmed` turns true the first time the agent presents it: until then (the welcome carrying the
-- secret may have been lost) a hello with the cluster token may be issued a new one, while the id is not connected.
-- Deleting the agent's row resets its credential: its next hello is that of a new agent.
ALTER TABLE agents ADD COLUMN secret_hash TEXT;
ALTER TABLE agents ADD COLUMN credential_issued_at TIMESTAMPTZ;
ALTER TABLE agents ADD COLUMN credential_confirmed BOOLEAN NOT NULL DEFAULT false;
