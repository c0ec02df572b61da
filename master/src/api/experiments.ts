// /api/v1/experiments: submit, list, describe, pause / activate / kill, scheduling settings, context download.
import { Type } from 'typebox';
import { stringify as toYaml } from 'yaml';
import type { ExperimentDetail, ExperimentState, Page, ExperimentSummary } from '@hone/protocol';
import { API_PREFIX, ConfigValidationError, parseExperimentConfig, flattenSpecs } from '@hone/protocol';
import { CreateExperimentBodySchema as CreateExperimentBody } from '@hone/protocol/schemas';
import { HoneError, invalid, notFound } from '../errors';
import { EXPERIMENT_COLUMNS, TRIAL_COLUMNS, getExperimentSummary, toExperimentSummary, toTrialSummary } from '../experiments/rows';
import type { App, MasterContext } from '../server';
import { authenticateTask } from './auth';
import { canEverFitPool } from '../rm/fit';
import { downsampleSeries } from './downsample';
import { ashaRungs } from '../searcher/asha';

const SORTS: Record<string, string> = {
  id: 'e.id',
  name: 'e.name',
  state: 'e.state',
  startTime: 'e.start_time',
  endTime: 'e.end_time',
  bestMetric: 'e.best_metric',
  numTrials: 'num_trials',
  progress: 'e.progress',
  searcher: "e.config->'searcher'->>'name'",
  resourcePool: 'e.resource_pool',
  user: 'e.owner',
};
const STATES: ExperimentState[] = ['ACTIVE', 'PAUSED', 'STOPPING_COMPLETED', 'STOPPING_CANCELED', 'COMPLETED', 'CANCELED', 'ERROR'];

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

type Series = Array<{ trialId: number; points: Array<[number, number]> }>;
/** Full-resolution series of one metric of an experiment's trials, kept until a new point of that experiment arrives. */
const seriesCache = new Map<string, { series: Series; at: number }>();
const SERIES_CACHE_MAX = 64;

export function invalidateExperimentSeries(experimentId: number): void {
  for (const k of seriesCache.keys()) if (k.startsWith(`${experimentId}/`)) seriesCache.delete(k);
}

async function experimentSeries(ctx: MasterContext, id: number, group: string, metric: string): Promise<Series> {
  const key = `${id}/${group}/${metric}`;
  const hit = seriesCache.get(key);
  if (hit) return hit.series;
  // One row per trial (arrays in step order): far fewer rows to hand over than one per point.
  const r = await ctx.db.query<{ trial_id: number; steps: number[]; vals: number[] }>(
    `SELECT m.trial_id, array_agg(m.steps_completed ORDER BY m.steps_completed, m.id) AS steps,
            array_agg((m.metrics->>$3)::float8 ORDER BY m.steps_completed, m.id) AS vals
       FROM metrics m
      WHERE m.trial_id IN (SELECT t.id FROM trials t WHERE t.experiment_id = $1) AND m.grp = $2 AND m.metrics ? $3
      GROUP BY m.trial_id ORDER BY m.trial_id`,
    [id, group, metric],
  );
  const series: Series = r.rows.map((row) => ({
    trialId: Number(row.trial_id),
    points: row.steps.map((s, i) => [Number(s), Number(row.vals[i])] as [number, number]),
  }));
  if (seriesCache.size >= SERIES_CACHE_MAX) seriesCache.delete(seriesCache.keys().next().value!);
  seriesCache.set(key, { series, at: Date.now() });
  return series;
}

export function registerExperimentRoutes(app: App, ctx: MasterContext): void {
  ctx.bus.subscribe((e) => {
    if (e.type === 'metrics') invalidateExperimentSeries(e.experimentId);
  });

  app.post(`${API_PREFIX}/experiments`, { schema: { body: CreateExperimentBody, tags: ['experiments'] } }, async (req, reply) => {
    const body = req.body;
    let config;
    try {
      config = parseExperimentConfig(body.config);
    } catch (e) {
      if (e instanceof ConfigValidationError) {
        throw new HoneError('INVALID_CONFIG', `invalid experiment config: ${e.message}`, { errors: e.errors });
      }
      throw e;
    }
    let context: Buffer | null = null;
    if (body.context !== undefined) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.context.slice(-64))) throw invalid('context: must be base64-encoded');
      context = Buffer.from(body.context, 'base64');
      if (context.length > ctx.opts.maxContextBytes) {
        throw new HoneError(
          'CONTEXT_TOO_LARGE',
          `context: the model directory is ${(context.length / 1048576).toFixed(1)} MiB compressed, over the limit of ${(ctx.opts.maxContextBytes / 1048576).toFixed(0)} MiB; add large files to .honeignore`,
        );
      }
      if (context.length < 2 || context[0] !== 0x1f || context[1] !== 0x8b) throw invalid('context: must be a gzipped tar archive');
    }
    if (config.searcher.name === 'grid') {
      const n = flattenSpecs(config.hyperparameters).length;
      if (n > 32) throw invalid(`hyperparameters: grid search over ${n} hyperparameters is too large`);
    }
    // A gang that can never fit in its pool is refused now rather than left pending forever.
    const fit = await canEverFitPool(ctx, config.resources.resource_pool, config.resources.slots_per_trial);
    if (!fit.fits) throw new HoneError('UNSATISFIABLE', `resources.slots_per_trial: ${fit.reason}`);
    const configYaml = typeof body.config === 'string' ? body.config : toYaml(body.config);
    const id = await ctx.experiments.createExperiment({ config, configYaml, context, activate: body.activate !== false });
    ctx.rm.requestPass();
    const exp = await getExperimentSummary(ctx.db, id);
    return reply.status(201).send(exp);
  });

  app.get(
    `${API_PREFIX}/experiments`,
    {
      schema: {
        tags: ['experiments'],
        querystring: Type.Object({
          offset: Type.Integer({ minimum: 0, default: 0 }),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          sort: Type.String({ default: 'id' }),
          order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' }),
          state: Type.Optional(Type.String()),
          name: Type.Optional(Type.String()),
          searcher: Type.Optional(Type.String()),
        }),
      },
    },
    async (req): Promise<Page<ExperimentSummary>> => {
      const q = req.query;
      const sortCol = SORTS[q.sort];
      if (!sortCol) throw invalid(`sort: must be one of ${Object.keys(SORTS).join(', ')}; got "${q.sort}"`);
      const where: string[] = [];
      const params: unknown[] = [];
      if (q.state) {
        const states = q.state.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
        const bad = states.find((s) => !STATES.includes(s as ExperimentState));
        if (bad) throw invalid(`state: unknown state "${bad}" (expected ${STATES.join(', ')})`);
        params.push(states);
        where.push(`e.state = ANY($${params.length})`);
      }
      if (q.name) {
        params.push(`%${q.name.replace(/[%_\\]/g, (c) => `\\${c}`)}%`);
        where.push(`e.name ILIKE $${params.length}`);
      }
      if (q.searcher) {
        params.push(q.searcher);
        where.push(`e.config->'searcher'->>'name' = $${params.length}`);
      }
      const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM experiments e ${w}`, params);
      const rows = await ctx.db.query(
        `SELECT ${EXPERIMENT_COLUMNS} FROM experiments e ${w} ORDER BY ${sortCol} ${q.order === 'asc' ? 'ASC' : 'DESC'} NULLS LAST, e.id DESC
         LIMIT ${q.limit} OFFSET ${q.offset}`,
        params,
      );
      return { items: rows.rows.map(toExperimentSummary), total: total.rows[0]!.n, offset: q.offset, limit: q.limit };
    },
  );

  app.get(`${API_PREFIX}/experiments/:id`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req): Promise<ExperimentDetail> => {
    const { id } = req.params;
    const r = await ctx.db.query(`SELECT ${EXPERIMENT_COLUMNS}, e.config_yaml FROM experiments e WHERE e.id = $1`, [id]);
    const row = r.rows[0];
    if (!row) throw notFound('experiment', id);
    const trials = await ctx.db.query(`SELECT ${TRIAL_COLUMNS} FROM trials t WHERE t.experiment_id = $1 ORDER BY t.id`, [id]);
    const summary = toExperimentSummary(row);
    const detail: ExperimentDetail = { ...summary, config: row.config, configYaml: row.config_yaml, trials: trials.rows.map(toTrialSummary) };
    const s = row.config.searcher.name;
    if (s === 'async_halving' || s === 'adaptive_asha') {
      // Rungs reached, per bracket, from the searcher's own state.
      const st = await ctx.db.query<{ searcher_state: any }>('SELECT searcher_state FROM experiments WHERE id = $1', [id]);
      const state = st.rows[0]?.searcher_state;
      if (state && Array.isArray(state.brackets)) {
        detail.rungs = ashaRungs(state).map((r) => ({ bracket: r.bracket, rung: r.rung, length: r.length, trials: r.results, promoted: r.promoted, best: r.best }));
      }
    }
    return detail;
  });

  for (const action of ['pause', 'activate', 'kill'] as const) {
    app.post(`${API_PREFIX}/experiments/:id/${action}`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req) => {
      const { id } = req.params;
      await ctx.experiments[action](id);
      ctx.rm.requestPass();
      return getExperimentSummary(ctx.db, id);
    });
  }

  app.patch(
    `${API_PREFIX}/experiments/:id`,
    {
      schema: {
        params: IdParams,
        tags: ['experiments'],
        body: Type.Object(
          {
            priority: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })),
            weight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
            max_slots: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { id } = req.params;
      const b = req.body as { priority?: number; weight?: number; max_slots?: number | null };
      if (!(await getExperimentSummary(ctx.db, id))) throw notFound('experiment', id);
      if (b.priority !== undefined) await ctx.experiments.setResources(id, 'priority', b.priority);
      if (b.weight !== undefined) await ctx.experiments.setResources(id, 'weight', b.weight);
      if (b.max_slots !== undefined) await ctx.experiments.setResources(id, 'max_slots', b.max_slots);
      ctx.rm.requestPass();
      return getExperimentSummary(ctx.db, id);
    },
  );

  app.get(`${API_PREFIX}/experiments/:id/context`, { schema: { params: IdParams, hide: true } }, async (req, reply) => {
    const { id } = req.params;
    const alloc = await authenticateTask(ctx, req);
    if (alloc.experiment_id !== id) throw new HoneError('PERMISSION_DENIED', 'this task token is not for that experiment');
    const r = await ctx.db.query<{ data: Buffer | Uint8Array }>('SELECT data FROM experiment_contexts WHERE experiment_id = $1', [id]);
    if (!r.rows[0]) return reply.status(204).send();
    return reply.type('application/gzip').send(Buffer.from(r.rows[0].data));
  });

  app.get(
    `${API_PREFIX}/experiments/:id/metrics`,
    {
      schema: {
        params: IdParams,
        tags: ['experiments'],
        querystring: Type.Object({
          group: Type.Union([Type.Literal('training'), Type.Literal('validation')], { default: 'validation' }),
          metric: Type.Optional(Type.String()),
          max_points: Type.Integer({ minimum: 2, maximum: 5000, default: 200 }),
        }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const { group, max_points } = req.query;
      const e = await ctx.db.query<{ metric: string }>(`SELECT config->'searcher'->>'metric' AS metric FROM experiments WHERE id = $1`, [id]);
      if (!e.rows[0]) throw notFound('experiment', id);
      const metric = req.query.metric ?? e.rows[0].metric;
      const series = await experimentSeries(ctx, id, group, metric);
      return {
        metric,
        group,
        series: series.map((s) => ({ trialId: s.trialId, points: downsampleSeries(s.points, max_points) })),
      };
    },
  );

  app.get(`${API_PREFIX}/experiments/:id/metric-names`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req) => {
    const { id } = req.params;
    // Names come from each trial's latest report (kept on the trial row), not from scanning every point.
    const r = await ctx.db.query<{ grp: string; name: string }>(
      `SELECT DISTINCT 'training' AS grp, k AS name FROM trials t CROSS JOIN LATERAL jsonb_object_keys(coalesce(t.latest_training, '{}'::jsonb)) k
        WHERE t.experiment_id = $1
       UNION
       SELECT DISTINCT 'validation' AS grp, k AS name FROM trials t CROSS JOIN LATERAL jsonb_object_keys(coalesce(t.latest_validation, '{}'::jsonb)) k
        WHERE t.experiment_id = $1`,
      [id],
    );
    const out = { training: [] as string[], validation: [] as string[] };
    for (const row of r.rows) (row.grp === 'training' ? out.training : out.validation).push(row.name);
    out.training.sort();
    out.validation.sort();
    return out;
  });
}
