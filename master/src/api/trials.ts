// /api/v1/trials: describe, metrics (reported in batches by the harness, read downsampled), logs.
import { Type } from 'typebox';
import type { MetricPoint, TaskLog } from '@hone/protocol';
import { API_PREFIX, TERMINAL_TRIAL_STATES } from '@hone/protocol';
import { ReportMetricsBodySchema as ReportMetricsBody } from '@hone/protocol/schemas';
import { notFound } from '../errors';
import { getTrialSummary, toCheckpointInfo } from '../experiments/rows';
import type { App, MasterContext } from '../server';
import { authenticateTrialTask } from './auth';
import { downsampleSeries } from './downsample';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

function toLog(r: any): TaskLog {
  return {
    id: Number(r.id),
    trialId: Number(r.trial_id),
    allocationId: r.allocation_id,
    agentId: r.agent_id,
    rank: r.rank,
    stream: r.stream,
    level: r.level,
    ts: r.ts instanceof Date ? r.ts.toISOString() : String(r.ts),
    line: r.line,
  };
}

/** Searcher metric name and direction per trial: they never change, so one lookup per trial. */
const searcherMetricCache = new Map<number, { metric: string; smaller: boolean; experimentId: number }>();

/**
 * Inserts metric points in one multi-row statement and updates the trial's latest (and, for validation, best)
 * values in the same round trip.
 */
export async function storeMetrics(ctx: MasterContext, trialId: number, group: 'training' | 'validation', points: MetricPoint[]): Promise<number> {
  if (!points.length) return 0;
  let info = searcherMetricCache.get(trialId);
  if (!info) {
    const t = await ctx.db.query<{ metric: string; smaller: boolean; experiment_id: number }>(
      `SELECT e.config->'searcher'->>'metric' AS metric, (e.config->'searcher'->>'smaller_is_better')::boolean AS smaller, t.experiment_id
         FROM trials t JOIN experiments e ON e.id = t.experiment_id WHERE t.id = $1`,
      [trialId],
    );
    if (!t.rows[0]) throw notFound('trial', trialId);
    info = { metric: t.rows[0].metric, smaller: t.rows[0].smaller, experimentId: Number(t.rows[0].experiment_id) };
    if (searcherMetricCache.size > 10_000) searcherMetricCache.clear();
    searcherMetricCache.set(trialId, info);
  }
  const last = points.reduce((a, b) => (b.stepsCompleted >= a.stepsCompleted ? b : a));
  // $4 is the latest step for training rows; validation rows use it for nothing but keep the numbering.
  // The batch travels as one JSON parameter that PostgreSQL unpacks, rather than two parameters per row.
  const params: unknown[] = [trialId, group, JSON.stringify(last.metrics), last.stepsCompleted, JSON.stringify(points)];
  const insert = `ins AS (INSERT INTO metrics (trial_id, grp, steps_completed, metrics)
      SELECT $1::bigint, $2::text, (e->>'stepsCompleted')::bigint, e->'metrics' FROM jsonb_array_elements($5::jsonb) AS e RETURNING 1)`;
  if (group === 'training') {
    await ctx.db.query(
      `WITH ${insert} UPDATE trials SET latest_training = $3::jsonb, total_batches = GREATEST(total_batches, $4::bigint) WHERE id = $1 AND (SELECT count(*) FROM ins) > 0`,
      params,
    );
  } else {
    const vals = points.map((p) => p.metrics[info!.metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const best = vals.length ? (info.smaller ? Math.min(...vals) : Math.max(...vals)) : null;
    params.push(best, info.smaller);
    const b = params.length - 1;
    await ctx.db.query(
      `WITH ${insert} UPDATE trials SET latest_validation = $3::jsonb,
         best_validation = CASE WHEN $${b}::float8 IS NULL THEN best_validation WHEN best_validation IS NULL THEN $${b}::float8
                                WHEN $${b + 1}::boolean THEN LEAST(best_validation, $${b}::float8) ELSE GREATEST(best_validation, $${b}::float8) END
       WHERE id = $1 AND (SELECT count(*) FROM ins) > 0 AND $4::bigint >= 0`,
      params,
    );
  }
  ctx.bus.publish({ type: 'metrics', trialId, experimentId: info.experimentId, group, points });
  if (group === 'validation') {
    const trial = await getTrialSummary(ctx.db, trialId);
    if (trial) ctx.bus.publish({ type: 'trial', trial });
  }
  return points.length;
}

export function registerTrialRoutes(app: App, ctx: MasterContext): void {
  app.get(`${API_PREFIX}/trials/:id`, { schema: { params: IdParams, tags: ['trials'] } }, async (req) => {
    const { id } = req.params;
    const t = await getTrialSummary(ctx.db, id);
    if (!t) throw notFound('trial', id);
    const cps = await ctx.db.query(
      `SELECT c.*, (SELECT (m.metrics->>(e.config->'searcher'->>'metric'))::float8 FROM metrics m
                     WHERE m.trial_id = c.trial_id AND m.grp = 'validation' AND m.steps_completed = c.steps_completed ORDER BY m.id DESC LIMIT 1) AS validation_metric
         FROM checkpoints c JOIN experiments e ON e.id = c.experiment_id WHERE c.trial_id = $1 ORDER BY c.steps_completed, c.reported_at`,
      [id],
    );
    return { ...t, checkpoints: cps.rows.map(toCheckpointInfo) };
  });

  app.get(
    `${API_PREFIX}/trials/:id/metrics`,
    {
      schema: {
        params: IdParams,
        tags: ['trials'],
        querystring: Type.Object({
          group: Type.Union([Type.Literal('training'), Type.Literal('validation')], { default: 'validation' }),
          max_points: Type.Integer({ minimum: 2, maximum: 5000, default: 1000 }),
          raw: Type.Boolean({ default: false }),
        }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const { group, max_points, raw } = req.query;
      if (!(await getTrialSummary(ctx.db, id))) throw notFound('trial', id);
      const r = await ctx.db.query<{ steps_completed: number; metrics: Record<string, number>; reported_at: Date }>(
        'SELECT steps_completed, metrics, reported_at FROM metrics WHERE trial_id = $1 AND grp = $2 ORDER BY steps_completed, id',
        [id, group],
      );
      if (raw) {
        return {
          group,
          points: r.rows.map((row) => ({ stepsCompleted: Number(row.steps_completed), metrics: row.metrics, reportedAt: row.reported_at.toISOString() })),
        };
      }
      const series: Record<string, Array<[number, number]>> = {};
      for (const row of r.rows) {
        for (const [k, v] of Object.entries(row.metrics)) {
          if (typeof v !== 'number') continue;
          (series[k] ??= []).push([Number(row.steps_completed), v]);
        }
      }
      for (const k of Object.keys(series)) series[k] = downsampleSeries(series[k]!, max_points);
      return { group, series };
    },
  );

  app.post(`${API_PREFIX}/trials/:id/metrics`, { schema: { params: IdParams, body: ReportMetricsBody, tags: ['harness'] } }, async (req) => {
    const { id } = req.params;
    await authenticateTrialTask(ctx, req, id, { live: true });
    const accepted = await storeMetrics(ctx, id, req.body.group, req.body.points);
    return { accepted };
  });

  app.get(
    `${API_PREFIX}/trials/:id/logs`,
    {
      schema: {
        params: IdParams,
        tags: ['trials'],
        querystring: Type.Object({
          after_id: Type.Optional(Type.Integer({ minimum: 0 })),
          tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
          limit: Type.Integer({ minimum: 1, maximum: 10000, default: 5000 }),
          wait_s: Type.Number({ minimum: 0, maximum: 60, default: 0 }),
        }),
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const q = req.query;
      const trial = await getTrialSummary(ctx.db, id);
      if (!trial) throw notFound('trial', id);
      const fetchLogs = async (): Promise<TaskLog[]> => {
        if (q.tail !== undefined && q.after_id === undefined) {
          const r = await ctx.db.query('SELECT * FROM (SELECT * FROM task_logs WHERE trial_id = $1 ORDER BY id DESC LIMIT $2) s ORDER BY id', [id, q.tail]);
          return r.rows.map(toLog);
        }
        const r = await ctx.db.query('SELECT * FROM task_logs WHERE trial_id = $1 AND id > $2 ORDER BY id LIMIT $3', [id, q.after_id ?? 0, q.limit]);
        return r.rows.map(toLog);
      };
      let logs = await fetchLogs();
      if (!logs.length && q.wait_s > 0 && !TERMINAL_TRIAL_STATES.includes(trial.state)) {
        const ac = new AbortController();
        reply.raw.on('close', () => ac.abort());
        await ctx.bus.waitFor((e) => (e.type === 'log' && e.log.trialId === id) || (e.type === 'trial' && e.trial.id === id && TERMINAL_TRIAL_STATES.includes(e.trial.state)), q.wait_s * 1000, ac.signal);
        logs = await fetchLogs();
      }
      const now = await getTrialSummary(ctx.db, id);
      reply.header('x-trial-state', now?.state ?? trial.state);
      return logs;
    },
  );

  /** Log lines written by the harness itself (or tools), in addition to what agents ship. */
  app.post(
    `${API_PREFIX}/trials/:id/logs`,
    {
      schema: {
        params: IdParams,
        tags: ['trials'],
        body: Type.Object({
          lines: Type.Array(
            Type.Object({ line: Type.String(), rank: Type.Optional(Type.Integer({ minimum: 0 })), stream: Type.Optional(Type.String()), level: Type.Optional(Type.String()) }),
            { maxItems: 10000 },
          ),
        }),
      },
    },
    async (req) => {
      const { id } = req.params;
      if (!(await getTrialSummary(ctx.db, id))) throw notFound('trial', id);
      const params: unknown[] = [id];
      const values: string[] = [];
      for (const l of req.body.lines) {
        params.push(l.rank ?? 0, l.stream ?? 'stdout', (l.level ?? 'INFO').toUpperCase(), l.line);
        const n = params.length;
        values.push(`($1, $${n - 3}, $${n - 2}, $${n - 1}, now(), $${n})`);
      }
      if (!values.length) return { accepted: 0 };
      const r = await ctx.db.query(`INSERT INTO task_logs (trial_id, rank, stream, level, ts, line) VALUES ${values.join(',')} RETURNING *`, params);
      for (const row of r.rows) ctx.bus.publish({ type: 'log', log: toLog(row) });
      return { accepted: r.rows.length };
    },
  );
}
