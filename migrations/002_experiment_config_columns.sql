-- The fields of the stored experiment config that queries filter, sort or join on, as typed columns, so that no
-- SQL reads the config JSON by string paths. The repository fills them from the parsed config at insert.
ALTER TABLE experiments ADD COLUMN searcher_name TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN searcher_metric TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN smaller_is_better BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE experiments ADD COLUMN slots_per_trial INTEGER NOT NULL DEFAULT 1;
UPDATE experiments SET
  searcher_name = coalesce(config->'searcher'->>'name', ''),
  searcher_metric = coalesce(config->'searcher'->>'metric', ''),
  smaller_is_better = coalesce((config->'searcher'->>'smaller_is_better')::boolean, true),
  slots_per_trial = coalesce((config->'resources'->>'slots_per_trial')::int, 1);
