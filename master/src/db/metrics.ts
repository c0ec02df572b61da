// Metrics repository: the only code that writes `metrics`, and the trial's metric summary columns
// (latest_training, latest_validation, best_validation, total_batches), which it updates in the same statement
// as the points so that a batch costs one round trip.
import type { MetricPoint } from '@hone/protocol';
import type { Queryable } from './database';
import { bestSql } from './sql';

export type MetricGroup = 'training' | 'validation';

/** The names of the metrics in a batch ($5, the points as JSON), as a set object to merge into a trial's names. */
const BATCH_NAMES = `COALESCE((SELECT jsonb_object_agg(k, true) FROM jsonb_array_elements($5::jsonb) AS e, jsonb_object_keys(e->'metrics') AS k), '{}'::jsonb)`;

/**
 * Inserts a batch of points and folds it into the trial's summary. The batch travels as one JSON parameter that
 * PostgreSQL unpacks, rather than two parameters per row. `searcherMetric` is the metric whose best is kept.
 * Idempotent: there is one point per step in a run, so a batch sent again after its answer was lost (the master
 * killed after committing it, a dropped connection) stores nothing twice; a second report at a step (another
 * metric, say) is merged into that step's point.
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
  // Points of one step (in the batch, or already stored for the trial's current run) become one point whose
  // metrics are merged, a later value of a metric replacing an earlier one.
  const insert = `ins AS (INSERT INTO metrics AS m (trial_id, grp, steps_completed, metrics)
      SELECT $1::bigint, $2::text, (e.el->>'stepsCompleted')::bigint, jsonb_object_agg(kv.key, kv.value ORDER BY e.ord)
        FROM jsonb_array_elements($5::jsonb) WITH ORDINALITY AS e(el, ord), jsonb_each(e.el->'metrics') AS kv
       GROUP BY (e.el->>'stepsCompleted')::bigint
      ON CONFLICT (trial_id, grp, steps_completed) WHERE NOT superseded DO UPDATE SET metrics = m.metrics || EXCLUDED.metrics
      RETURNING 1)`;
  if (group === 'training') {
    await q.query(
      `WITH ${insert} UPDATE trials SET latest_training = $3::jsonb, total_batches = GREATEST(total_batches, $4::bigint),
         training_metric_names = training_metric_names || ${BATCH_NAMES}
       WHERE id = $1 AND (SELECT count(*) FROM ins) > 0`,
      params,
    );
    return;
  }
  params.push(searcher.metric, searcher.smallerIsBetter);
  const batchBest = `(SELECT ${searcher.smallerIsBetter ? 'min' : 'max'}((e->'metrics'->>$6::text)::float8) FROM jsonb_array_elements($5::jsonb) AS e)`;
  await q.query(
    `WITH ${insert} UPDATE trials SET latest_validation = $3::jsonb, best_validation = ${bestSql('best_validation', batchBest, '$7::boolean')},
       validation_metric_names = validation_metric_names || ${BATCH_NAMES}
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

/** How many points one trial's group holds, and their step range (for choosing how to read them). */
export async function trialMetricExtent(q: Queryable, trialId: number, group: MetricGroup): Promise<{ count: number; minStep: number; maxStep: number }> {
  const r = await q.query<{ n: string | number; lo: string | number | null; hi: string | number | null }>(
    'SELECT count(*) AS n, min(steps_completed) AS lo, max(steps_completed) AS hi FROM metrics WHERE trial_id = $1 AND grp = $2 AND NOT superseded',
    [trialId, group],
  );
  const row = r.rows[0]!;
  return { count: Number(row.n), minStep: Number(row.lo ?? 0), maxStep: Number(row.hi ?? 0) };
}

/**
 * A bounded summary of one trial's group, computed by the database: the step range is cut into `buckets` equal
 * buckets and, per metric and bucket, the first, last, lowest and highest points are kept (so spikes survive).
 * At most 4 points per metric and bucket reach the master, however many the trial stored.
 */
export async function trialMetricBuckets(
  q: Queryable,
  trialId: number,
  group: MetricGroup,
  range: { minStep: number; maxStep: number },
  buckets: number,
): Promise<Record<string, Array<[number, number]>>> {
  const names = await q.query<{ names: Record<string, unknown> | null }>(
    `SELECT ${group === 'training' ? 'training_metric_names' : 'validation_metric_names'} AS names FROM trials WHERE id = $1`,
    [trialId],
  );
  const keys = Object.keys(names.rows[0]?.names ?? {}).sort();
  if (!keys.length) return {};
  // Per named metric and bucket, min/max over [value, step] and [step, value] arrays give the extreme and the
  // first and last points with their steps, in one pass of plain aggregates over the trial's rows.
  // Each named metric's value is read out of the row once (the OFFSET 0 keeps the database from folding the inner
  // query into the aggregates and reading it again for each of them).
  const params: unknown[] = [trialId, group, range.minStep, range.maxStep, buckets];
  const values = keys.map((k, i) => {
    params.push(k);
    const n = `$${params.length}::text`;
    return `CASE WHEN jsonb_typeof(m.metrics->${n}) = 'number' THEN (m.metrics->>${n})::float8 END AS v${i}`;
  });
  const cols = keys.map((_, i) => {
    const has = `FILTER (WHERE v${i} IS NOT NULL)`;
    return `min(ARRAY[v${i}, s]) ${has} AS lo${i}, max(ARRAY[v${i}, s]) ${has} AS hi${i}, min(ARRAY[s, v${i}]) ${has} AS fst${i}, max(ARRAY[s, v${i}]) ${has} AS lst${i}`;
  });
  const r = await q.query<Record<string, number[] | null>>(
    `SELECT ${cols.join(', ')}
       FROM (SELECT m.steps_completed::float8 AS s, width_bucket(m.steps_completed::float8, $3::float8, $4::float8 + 1, $5::int) AS b, ${values.join(', ')}
               FROM metrics m WHERE m.trial_id = $1 AND m.grp = $2 AND NOT m.superseded OFFSET 0) AS p
      GROUP BY p.b`,
    params,
  );
  const series: Record<string, Array<[number, number]>> = {};
  keys.forEach((k, i) => {
    const pts = new Map<number, number>();
    for (const row of r.rows) {
      for (const [v, s] of [row[`lo${i}`], row[`hi${i}`]].filter((x): x is number[] => !!x)) pts.set(Number(s), Number(v));
      for (const [s, v] of [row[`fst${i}`], row[`lst${i}`]].filter((x): x is number[] => !!x)) pts.set(Number(s), Number(v));
    }
    if (pts.size) series[k] = [...pts].sort((x, y) => x[0] - y[0]);
  });
  return series;
}

/** One page of a trial's points in step order, after `cursor` (the last page's final step and row id). */
export async function trialMetricPage(
  q: Queryable,
  trialId: number,
  group: MetricGroup,
  limit: number,
  cursor?: { step: number; id: number },
): Promise<{ points: Array<{ stepsCompleted: number; metrics: Record<string, number>; reportedAt: Date }>; next?: { step: number; id: number } }> {
  const r = await q.query<{ id: string | number; steps_completed: number; metrics: Record<string, number>; reported_at: Date }>(
    `SELECT id, steps_completed, metrics, reported_at FROM metrics
      WHERE trial_id = $1 AND grp = $2 AND NOT superseded AND (steps_completed, id) > ($3::bigint, $4::bigint)
      ORDER BY steps_completed, id LIMIT $5`,
    [trialId, group, cursor?.step ?? -1, cursor?.id ?? -1, limit + 1],
  );
  const rows = r.rows.slice(0, limit);
  const last = rows[rows.length - 1];
  return {
    points: rows.map((row) => ({ stepsCompleted: Number(row.steps_completed), metrics: row.metrics, reportedAt: new Date(row.reported_at) })),
    ...(r.rows.length > limit && last ? { next: { step: Number(last.steps_completed), id: Number(last.id) } } : {}),
  };
}

/**
 * A run of the trial starts from `steps` (its checkpoint's, or 0): the points reported after that step by
 * earlier runs are superseded, so every read shows one value per step. Returns how many points were superseded.
 */
export async function supersedeAfter(q: Queryable, trialId: number, steps: number): Promise<number> {
  const r = await q.query('UPDATE metrics SET superseded = true WHERE trial_id = $1 AND steps_completed > $2 AND NOT superseded', [trialId, steps]);
  return r.rowCount;
}
