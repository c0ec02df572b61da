// /api/v1/experiments: submit, list, describe, pause / activate / kill, scheduling settings, context download.
import { Type } from 'typebox';
import type { ExperimentDetail, ExperimentState, Page, ExperimentSummary, PatchExperimentBody } from '@hone/protocol';
import { API_PREFIX, EXPERIMENT_STATES } from '@hone/protocol';
import { CreateExperimentBodySchema as CreateExperimentBody } from '@hone/protocol/schemas';
import * as projectsDb from '../db/projects';
import { submitExperiment } from '../experiments/submit';
import { editExperiment, registerExperimentManagementRoutes } from './experimentManagement';
import type { App, MasterContext } from '../context';
import * as experimentsDb from '../db/experiments';
import { EXPERIMENT_SORTS, type ExperimentSort } from '../db/experiments';
import { getMetricNames, listTrials } from '../db/trials';
import { requireOwnerOrAdmin } from '../auth/permissions';
import type { UserIdentity } from '../auth/userAuth';
import { listExperimentAudit } from '../db/audit';
import { invalid, notFound } from '../errors';
import { ashaRungs } from '../searcher/asha';
import { downsampleSeries, pointsForBudget } from './downsample';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

export function registerExperimentRoutes(app: App, ctx: MasterContext): void {
  app.post(`${API_PREFIX}/experiments`, { bodyLimit: ctx.bodyLimits.context, schema: { body: CreateExperimentBody, tags: ['experiments'] } }, async (req, reply) => {
    const body = req.body;
    let context: Buffer | null = null;
    if (body.context !== undefined) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.context.slice(-64))) throw invalid('context: must be base64-encoded');
      context = Buffer.from(body.context, 'base64');
    }
    const id = await submitExperiment(ctx, {
      config: body.config,
      context,
      activate: body.activate !== false,
      owner: req.user!.username,
      ...(body.project !== undefined ? { project: body.project } : {}),
    });
    return reply.status(201).send(await experimentsDb.getExperimentSummary(ctx.db, id));
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
          user: Type.Optional(Type.String({ maxLength: 128 })),
          project: Type.Optional(Type.String({ maxLength: 128 })),
          archived: Type.Union([Type.Literal('false'), Type.Literal('true'), Type.Literal('all')], { default: 'false' }),
          label: Type.Optional(Type.String({ maxLength: 256 })),
        }),
      },
    },
    async (req): Promise<Page<ExperimentSummary>> => {
      const q = req.query;
      if (!Object.prototype.hasOwnProperty.call(EXPERIMENT_SORTS, q.sort)) {
        throw invalid(`sort: must be one of ${Object.keys(EXPERIMENT_SORTS).join(', ')}; got "${q.sort}"`);
      }
      let states: ExperimentState[] | undefined;
      if (q.state) {
        const wanted = q.state.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
        const bad = wanted.find((s) => !experimentsDb.isExperimentState(s));
        if (bad) throw invalid(`state: unknown state "${bad}" (expected ${EXPERIMENT_STATES.join(', ')})`);
        states = wanted as ExperimentState[];
      }
      let projectId: number | undefined;
      if (q.project) {
        const pid = await projectsDb.projectId(ctx.db, q.project);
        if (pid === null) throw notFound('project', q.project);
        projectId = pid;
      }
      return experimentsDb.listExperiments(ctx.db, {
        ...(projectId !== undefined ? { projectId } : {}),
        archived: q.archived === 'all' ? 'all' : q.archived === 'true',
        ...(q.label ? { label: q.label } : {}),
        ...(states ? { states } : {}),
        ...(q.name ? { name: q.name } : {}),
        ...(q.searcher ? { searcher: q.searcher } : {}),
        ...(q.user ? { user: q.user } : {}),
        sort: q.sort as ExperimentSort,
        order: q.order,
        offset: q.offset,
        limit: q.limit,
      });
    },
  );

  app.get(`${API_PREFIX}/experiments/:id`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req): Promise<ExperimentDetail> => {
    const { id } = req.params;
    const found = await experimentsDb.getExperimentDetail(ctx.db, id);
    if (!found) throw notFound('experiment', id);
    const { searcherState, ...rest } = found;
    const detail: ExperimentDetail = { ...rest, trials: await listTrials(ctx.db, id), audit: await listExperimentAudit(ctx.db, id) };
    const s = rest.config.searcher.name;
    const state = searcherState as { brackets?: unknown } | null;
    if ((s === 'async_halving' || s === 'adaptive_asha') && state && Array.isArray(state.brackets)) {
      // Rungs reached, per bracket, from the searcher's own state.
      detail.rungs = ashaRungs(state as any).map((r) => ({ bracket: r.bracket, rung: r.rung, length: r.length, trials: r.results, promoted: r.promoted, best: r.best }));
    }
    return detail;
  });

  /** The experiment, if the signed-in user may change it (its owner, or an admin). */
  const changeable = async (req: { user?: UserIdentity }, id: number, what: string) => {
    const exp = await experimentsDb.getExperimentSummary(ctx.db, id);
    if (!exp) throw notFound('experiment', id);
    requireOwnerOrAdmin(req.user!, exp.user, `${what} experiment ${id}`);
    return exp;
  };

  for (const action of ['pause', 'activate', 'kill'] as const) {
    app.post(`${API_PREFIX}/experiments/:id/${action}`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req) => {
      const { id } = req.params;
      await changeable(req, id, action);
      await ctx.experiments[action](id, req.user!.username);
      ctx.rm.requestPass();
      return experimentsDb.getExperimentSummary(ctx.db, id);
    });
  }

  // Deletion of an ended experiment (or a retry of a failed one): 202, the experiment DELETING; it disappears once
  // a job has deleted its checkpoint files and then its rows. DELETE_FAILED (with deleteError) if that fails.
  app.delete(`${API_PREFIX}/experiments/:id`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req, reply) => {
    const { id } = req.params;
    await changeable(req, id, 'delete');
    await ctx.experiments.requestDeletion(id, req.user!.username);
    return reply.status(202).send(await experimentsDb.getExperimentSummary(ctx.db, id));
  });

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
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            description: Type.Optional(Type.String({ maxLength: 16384 })),
            notes: Type.Optional(Type.String({ maxLength: 1048576 })),
            labels: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100 })),
            project: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
      },
      bodyLimit: 4 * 1048576,
    },
    async (req) => {
      const { id } = req.params;
      const b = req.body as PatchExperimentBody;
      const scheduling = b.priority !== undefined || b.weight !== undefined || b.max_slots !== undefined;
      await changeable(req, id, scheduling ? 'change the scheduling settings of' : 'edit');
      const actor = req.user!.username;
      await editExperiment(ctx, id, b, actor);
      if (b.priority !== undefined) await ctx.experiments.setResources(id, 'priority', b.priority, actor);
      if (b.weight !== undefined) await ctx.experiments.setResources(id, 'weight', b.weight, actor);
      if (b.max_slots !== undefined) await ctx.experiments.setResources(id, 'max_slots', b.max_slots, actor);
      ctx.rm.requestPass();
      return experimentsDb.getExperimentSummary(ctx.db, id);
    },
  );

  app.get(`${API_PREFIX}/experiments/:id/context`, { config: { auth: 'task' }, schema: { params: IdParams, hide: true } }, async (req, reply) => {
    const { id } = req.params;
    await ctx.taskAuth.experiment(req, id);
    const data = await experimentsDb.getContext(ctx.db, id);
    if (!data) return reply.status(204).send();
    return reply.type('application/gzip').send(data);
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
          // Points for all curves together, spread over them (see pointsForBudget); wins over max_points. The web
          // UI asks this way, so that it can ask before it knows how many trials the experiment has.
          point_budget: Type.Optional(Type.Integer({ minimum: 20, maximum: 1_000_000 })),
        }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const { group, point_budget } = req.query;
      const searcher = await experimentsDb.getSearcherMetric(ctx.db, id);
      if (!searcher) throw notFound('experiment', id);
      const metric = req.query.metric ?? searcher.metric;
      const series = await ctx.metrics.experimentSeries(id, group, metric);
      const maxPoints = point_budget === undefined ? req.query.max_points : pointsForBudget(point_budget, series.length);
      return {
        metric,
        group,
        maxPoints,
        series: series.map((s) => ({ trialId: s.trialId, points: downsampleSeries(s.points, maxPoints) })),
      };
    },
  );

  registerExperimentManagementRoutes(app, ctx, changeable);

  app.get(`${API_PREFIX}/experiments/:id/metric-names`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req) => {
    const { id } = req.params;
    return getMetricNames(ctx.db, id);
  });
}
