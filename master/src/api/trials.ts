// /api/v1/trials: describe, metrics (reported in batches by the harness, read downsampled), logs.
import { Type } from 'typebox';
import type { TaskLog, TrialDetail } from '@hone/protocol';
import { API_PREFIX, TERMINAL_TRIAL_STATES } from '@hone/protocol';
import { ReportMetricsBodySchema as ReportMetricsBody } from '@hone/protocol/schemas';
import type { App, MasterContext } from '../context';
import { listTrialAllocations } from '../db/allocations';
import { listTrialCheckpoints } from '../db/checkpoints';
import { trialMetricBuckets, trialMetricExtent, trialMetricPage } from '../db/metrics';
import { getTrialProvenance, getTrialSummary, trialExists } from '../db/trials';
import { notFound } from '../errors';
import { ingestLogs } from '../experiments/taskLogs';
import { downsampleSeries } from './downsample';
import { longPoll } from './longPoll';
import { LogFilterQuery, logQueryOf, readLogs } from './logFilters';
import { registerTrialManagementRoutes } from './trialManagement';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
/** Most raw metric points in one answer; more come page by page through `next_cursor`. */
const MAX_RAW_PAGE = 10_000;

export function registerTrialRoutes(app: App, ctx: MasterContext): void {
  app.get(`${API_PREFIX}/trials/:id`, { schema: { params: IdParams, tags: ['trials'] } }, async (req) => {
    const { id } = req.params;
    const t = await getTrialSummary(ctx.db, id);
    if (!t) throw notFound('trial', id);
    const [checkpoints, allocations, provenance] = await Promise.all([
      listTrialCheckpoints(ctx.db, id),
      listTrialAllocations(ctx.db, id),
      getTrialProvenance(ctx.db, id),
    ]);
    return {
      ...t,
      checkpoints,
      allocations,
      reproducibility: provenance?.reproducibility ?? null,
      sourceCheckpointUuid: provenance?.sourceCheckpointUuid ?? null,
      sourceTrialId: provenance?.sourceTrialId ?? null,
    } satisfies TrialDetail;
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
          limit: Type.Integer({ minimum: 1, maximum: MAX_RAW_PAGE, default: MAX_RAW_PAGE }),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]+:[0-9]+$', maxLength: 48 })),
        }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const { group, max_points, raw, limit, cursor } = req.query;
      if (!(await trialExists(ctx.db, id))) throw notFound('trial', id);
      if (raw) {
        // Every point, a page at a time in step order; `next_cursor` asks for the page after this one.
        const [step, row] = (cursor ?? '').split(':').map(Number);
        const page = await trialMetricPage(ctx.db, id, group, limit, cursor ? { step: step!, id: row! } : undefined);
        return {
          group,
          points: page.points.map((p) => ({ ...p, reportedAt: p.reportedAt.toISOString() })),
          next_cursor: page.next ? `${page.next.step}:${page.next.id}` : null,
        };
      }
      // Downsampled: a small trial's points are read whole; a large one's are summarised by the database first
      // (first, last, lowest and highest point per metric and step bucket), so the master's memory stays bounded.
      const extent = await trialMetricExtent(ctx.db, id, group);
      let series: Record<string, Array<[number, number]>> = {};
      if (extent.count <= max_points) {
        for (const row of (await trialMetricPage(ctx.db, id, group, max_points)).points) {
          for (const [k, v] of Object.entries(row.metrics)) if (typeof v === 'number') (series[k] ??= []).push([row.stepsCompleted, v]);
        }
      } else {
        series = await trialMetricBuckets(ctx.db, id, group, extent, Math.max(1, Math.floor(max_points / 4)));
      }
      for (const k of Object.keys(series)) series[k] = downsampleSeries(series[k]!, max_points);
      return { group, series };
    },
  );

  app.post(`${API_PREFIX}/trials/:id/metrics`, { config: { auth: 'task' }, schema: { params: IdParams, body: ReportMetricsBody, tags: ['harness'] } }, async (req) => {
    const { id } = req.params;
    await ctx.taskAuth.trial(req, id);
    const accepted = await ctx.metrics.store(id, req.body.group, req.body.points);
    return { accepted };
  });

  app.get(
    `${API_PREFIX}/trials/:id/logs`,
    { schema: { params: IdParams, tags: ['trials'], querystring: LogFilterQuery } },
    async (req, reply) => {
      const { id } = req.params;
      const q = req.query;
      const trial = await getTrialSummary(ctx.db, id);
      if (!trial) throw notFound('trial', id);
      let ended = TERMINAL_TRIAL_STATES.includes(trial.state);
      const query = { ...logQueryOf(q), trialId: id };
      const logs = await longPoll<TaskLog[]>(ctx.bus, reply, {
        read: () => readLogs(ctx, query),
        ready: (l) => l.length > 0 || ended,
        wake: (e) => {
          if (e.type === 'trial' && e.trial.id === id && TERMINAL_TRIAL_STATES.includes(e.trial.state)) ended = true;
          return (e.type === 'log' && e.log.trialId === id) || ended;
        },
        waitMs: q.wait_s * 1000,
      });
      const now = await getTrialSummary(ctx.db, id);
      reply.header('x-trial-state', now?.state ?? trial.state);
      return logs;
    },
  );

  registerTrialManagementRoutes(app, ctx);

  /** Log lines written by the harness itself, in addition to what agents ship (its own trial only). */
  app.post(
    `${API_PREFIX}/trials/:id/logs`,
    {
      config: { auth: 'task' },
      schema: {
        params: IdParams,
        tags: ['harness'],
        body: Type.Object({
          lines: Type.Array(
            Type.Object({
              line: Type.String({ maxLength: 65536 }),
              rank: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
              stream: Type.Optional(Type.Union([Type.Literal('stdout'), Type.Literal('stderr')])),
              level: Type.Optional(Type.Union(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].map((l) => Type.Literal(l)))),
            }),
            { maxItems: 1000 },
          ),
        }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const task = await ctx.taskAuth.trial(req, id);
      const stored = await ingestLogs(
        ctx.db,
        ctx.bus,
        id,
        req.body.lines.map((l) => ({ allocationId: task.id, agentId: null, rank: l.rank ?? 0, stream: l.stream ?? 'stdout', level: l.level ?? 'INFO', ts: null, line: l.line })),
      );
      return { accepted: stored.length };
    },
  );
}
