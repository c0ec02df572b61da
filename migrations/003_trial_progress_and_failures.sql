-- Length trained so far while a trial runs (reported by the harness at validations and checkpoints), and why
-- runs failed: the last error line of the failing rank per allocation, and the trial's latest failure in a line.
ALTER TABLE trials ADD COLUMN trained_length DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN failure TEXT;
ALTER TABLE allocations ADD COLUMN last_error TEXT;
ALTER TABLE allocations ADD COLUMN failed BOOLEAN NOT NULL DEFAULT false;
UPDATE trials SET trained_length = completed_length;
