-- A trial that resumes from a checkpoint trains the steps after it again. The points the earlier run reported for
-- those steps are superseded by the resumed run's: kept for audit, left out of every read.
ALTER TABLE metrics ADD COLUMN superseded BOOLEAN NOT NULL DEFAULT false;
