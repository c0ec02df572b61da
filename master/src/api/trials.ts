// /api/v1/trials: describe, metrics (reported in batches by the harness, read downsampled), logs.
import { Type } from 'typebox';
import type { TaskLog, TrialDetail } from '@hone/protocol';
import { API_PREFIX, TERMINAL_TRIAL_STATES } from '@hone/protocol';
import { ReportMetricsBodySchema as ReportMetricsBody } from '@hone/protocol/schemas';
import type { App, MasterContext } from '../context';
import { listTrialAllocations } from '../db/allocations';
import { listTrialCheckpoints } from '../db/checkpoints';
import { trialMetricPoints } from '../db/metrics';
import { getTrialProvenance, getTrialSummary, trialExists } from '../db/trials';
import { notFound } from '../errors';
import { ingestLogs } from '../experiments/taskLogs';
import { downsampleSeries } from './downsample';
import { longPoll } from './longPoll';
import { LogFilterQuery, logQueryOf, readLogs } from './logFilters';
import { registerTrialManagementRoutes } from './trialManagement';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

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
        }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const { group, max_points, raw } = req.query;
      if (!(await trialExists(ctx.db, id))) throw notFound('trial', id);
      const rows = await trialMetricPoints(ctx.db, id, group);
      if (raw) return { group, points: rows.map((row) => ({ ...row, reportedAt: row.reportedAt.toISOString() })) };
      const series: Record<string, Array<[number, number]>> = {};
      for (const row of rows) {
        for (const [k, v] of Object.entries(row.metrics)) {
          if (typeof v !== 'number') continue;
          (series[k] ??= []).push([row.stepsCompleted, v]);
        }
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
