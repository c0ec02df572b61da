// Bulk rows for bench:scale: copies of one experiment (and its trial) made with INSERT ... SELECT over
// generate_series, and metric rows spread over those trials, so 10,000 experiments and 1,000,000 metric rows take
// seconds to write. Bench-only: nothing in the master calls it.
import type { Queryable } from './database';

async function columnsOf(q: Queryable, table: string): Promise<string[]> {
  const r = await q.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND column_name <> 'id' ORDER BY ordinal_position`,
    [table],
  );
  return r.rows.map((x) => x.column_name);
}

/** Adds `copies` experiments like `templateExperiment`, each with one trial like `templateTrial`. */
export async function copyExperiments(q: Queryable, templateExperiment: number, templateTrial: number, copies: number): Promise<void> {
  const ecols = (await columnsOf(q, 'experiments')).filter((c) => c !== 'name');
  await q.query(
    `INSERT INTO experiments (name, ${ecols.join(', ')}) SELECT name || '-' || g, ${ecols.join(', ')} FROM experiments, generate_series(1, $2) g WHERE id = $1`,
    [templateExperiment, copies],
  );
  const tcols = (await columnsOf(q, 'trials')).filter((c) => c !== 'experiment_id');
  await q.query(
    `INSERT INTO trials (experiment_id, ${tcols.join(', ')}) SELECT e.id, ${tcols.map((c) => `t.${c}`).join(', ')}
       FROM trials t, experiments e WHERE t.id = $1 AND e.id > $2`,
    [templateTrial, templateExperiment],
  );
}

/** Adds `perTrial` training metric rows to each of up to `trials` trials (the lowest ids). */
export async function addMetricRows(q: Queryable, trials: number, perTrial: number): Promise<void> {
  await q.query(
    `INSERT INTO metrics (trial_id, grp, steps_completed, metrics)
       SELECT t.id, 'training', s, jsonb_build_object('loss', 1.0 / s)
       FROM (SELECT id FROM trials ORDER BY id LIMIT $1) t, generate_series(1, $2) s`,
    [trials, perTrial],
  );
}
