-- Agent message delivery: agents number the messages of their outbox (an epoch, a random id of one outbox, and a
-- sequence number). The master stores each message once, records here the highest seq it stored of the agent's
-- current epoch, and acknowledges it; after a master restart the agent re-sends what is unacknowledged and
-- this says what is a repeat.
ALTER TABLE agents ADD COLUMN outbox_epoch TEXT;
ALTER TABLE agents ADD COLUMN outbox_seq BIGINT NOT NULL DEFAULT 0;
