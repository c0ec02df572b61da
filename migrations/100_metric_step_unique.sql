-- One point per trial, group and step in a run. A batch the harness sends again because the answer to the first
-- send was lost (the master was killed after committing it, or its database connection dropped) must not store
-- its points twice: the insert skips points whose step is already stored for the trial's current run. Points
-- already stored twice keep the first copy; the later ones are marked superseded (kept for audit, never read).
UPDATE metrics m SET superseded = true
 WHERE NOT m.superseded
   AND EXISTS (SELECT 1 FROM metrics d
                WHERE d.trial_id = m.trial_id AND d.grp = m.grp AND d.steps_completed = m.steps_completed
                  AND NOT d.superseded AND d.id < m.id);
CREATE UNIQUE INDEX metrics_one_per_step ON metrics (trial_id, grp, steps_completed) WHERE NOT superseded;
