-- The names of the metrics each trial has reported, per group, kept as the points arrive ({"loss": true, ...}):
-- a curve of millions of points is summarised by the database one named metric at a time, without first
-- reading every point to find out which metrics there are.
ALTER TABLE trials ADD COLUMN training_metric_names JSONB NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE trials ADD COLUMN validation_metric_names JSONB NOT NULL DEFAULT '{}'::jsonb;
UPDATE trials t SET training_metric_names = COALESCE((
  SELECT jsonb_object_agg(k, true) FROM (SELECT DISTINCT jsonb_object_keys(m.metrics) AS k FROM metrics m WHERE m.trial_id = t.id AND m.grp = 'training') names), '{}'::jsonb);
UPDATE trials t SET validation_metric_names = COALESCE((
  SELECT jsonb_object_agg(k, true) FROM (SELECT DISTINCT jsonb_object_keys(m.metrics) AS k FROM metrics m WHERE m.trial_id = t.id AND m.grp = 'validation') names), '{}'::jsonb);
