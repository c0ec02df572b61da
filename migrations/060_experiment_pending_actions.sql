-- Searcher actions an experiment's controller has not applied yet: a searcher that asks for many trials at once
-- (a 10,000-trial random search) gets them created in bounded batches, one short transaction each, so the API
-- is never blocked behind one huge transaction. Stored with the searcher state in the same transaction, so a
-- master restarted in between carries on where it stopped. NULL: nothing pending.
ALTER TABLE experiments ADD COLUMN pending_actions JSONB;
