// Metrics repository: the only code that writes `metrics`, and the trial's metric summary columns
// (latest_training, latest_validation, best_validation, total_batches), which it updates in the same statement
// as the points so that a batch costs one round trip.
import type { MetricPoint } from '@hone/protocol';
import type { Queryable } from './database';
import { bestSql } from './sql';

export type MetricGroup = 'training' | 'validation';

/**
 * Inserts a batch of points and folds it into the trial's summary. The batch travels as one JSON parameter that
 * PostgreSQL unpacks, rather than two parameters per row. `searcherMetric` is the metric whose best is kept.
 */
export async function insertMetrics(
  q: Queryable,
  trialId: number,
  group: MetricGroup,
  points: MetricPoint[],
  searcher: { metric: string; smallerIsBetter: boolean },
): Promise<void> {
  if (!points.length) return;
  const last = points.reduce((a, b) => (b.stepsCompleted >= a.stepsCompleted ? b : a));
  const params: unknown[] = [trialId, group, JSON.stringify(last.metrics), last.stepsCompleted, JSON.stringify(points)];
  const insert = `ins AS (INSERT INTO metrics (trial_id, grp, steps_completed, metrics)
      SELECT $1::bigint, $2::text, (e->>'stepsCompleted')::bigint, e->'metrics' FROM jsonb_array_elements($5::jsonb) AS e RETURNING 1)`;
  if (group === 'training') {
    await q.query(
      `WITH ${insert} UPDATE trials SET latest_training = $3::jsonb, total_batches = GREATEST(total_batches, $4::bigint) WHERE id = $1 AND (SELECT count(*) FROM ins) > 0`,
      params,
    );
    return;
  }
  params.push(searcher.metric, searcher.smallerIsBetter);
  const batchBest = `(SELECT ${searcher.smallerIsBetter ? 'min' : 'max'}((e->'metrics'->>$6::text)::float8) FROM jsonb_array_elements($5::jsonb) AS e)`;
  await q.query(
    `WITH ${insert} UPDATE trials SET latest_validation = $3::jsonb, best_validation = ${bestSql('best_validation', batchBest, '$7::boolean')}
     WHERE id = $1 AND (SELECT count(*) FROM ins) > 0 AND $4::bigint >= 0`,
    params,
  );
}

/** One series per trial of an experiment (arrays in step order): far fewer rows to hand over than one per point. */
export async function experimentMetricSeries(
  q: Queryable,
  experimentId: number,
  group: MetricGroup,
  metric: string,
): Promise<Array<{ trialId: number; points: Array<[number, number]> }>> {
  const r = await q.query<{ trial_id: number; steps: number[]; vals: number[] }>(
    `SELECT m.trial_id, array_agg(m.steps_completed ORDER BY m.steps_completed, m.id) AS steps,
            array_agg((m.metrics->>$3)::float8 ORDER BY m.steps_completed, m.id) AS vals
       FROM metrics m
      WHERE m.trial_id IN (SELECT t.id FROM trials t WHERE t.experiment_id = $1) AND m.grp = $2 AND m.metrics ? $3 AND NOT m.superseded
      GROUP BY m.trial_id ORDER BY m.trial_id`,
    [experimentId, group, metric],
  );
  return r.rows.map((row) => ({
    trialId: Number(row.trial_id),
    points: row.steps.map((s, i) => [Number(s), Number(row.vals[i])] as [number, number]),
  }));
}

/** Every point of one trial's group, in step order. */
export async function trialMetricPoints(
  q: Queryable,
  trialId: number,
  group: MetricGroup,
): Promise<Array<{ stepsCompleted: number; metrics: Record<string, number>; reportedAt: Date }>> {
  const r = await q.query<{ steps_completed: number; metrics: Record<string, number>; reported_at: Date }>(
    'SELECT steps_completed, metrics, reported_at FROM metrics WHERE trial_id = $1 AND grp = $2 AND NOT superseded ORDER BY steps_completed, id',
    [trialId, group],
  );
  return r.rows.map((row) => ({ stepsCompleted: Number(row.steps_completed), metrics: row.metrics, reportedAt: new Date(row.reported_at) }));
}

/**
 * A run of the trial starts from `steps` (its checkpoint's, or 0): the points reported after that step by
 * earlier runs are superseded, so every read shows one value per step. Returns how many points were superseded.
 */
export async function supersedeAfter(q: Queryable, trialId: number, steps: number): Promise<number> {
  const r = await q.query('UPDATE metrics SET superseded = true WHERE trial_id = $1 AND steps_completed > $2 AND NOT superseded', [trialId, steps]);
  return r.rowCount;
}
