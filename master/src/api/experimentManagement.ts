// Experiment management under /api/v1/experiments/:id: fork, archive / unarchive, edits (name, description,
// notes, labels, project), labels one by one, logs of all trials with filters, and the model directory download.
import { Type } from 'typebox';
import { parse as parseYaml } from 'yaml';
import type { ExperimentSummary, PatchExperimentBody, TaskLog } from '@hone/protocol';
import { API_PREFIX, TERMINAL_EXPERIMENT_STATES } from '@hone/protocol';
import type { FastifyRequest } from 'fastify';
import type { App, MasterContext } from '../context';
import type { UserIdentity } from '../auth/userAuth';
import { recordAudit } from '../db/audit';
import * as experimentsDb from '../db/experiments';
import * as projectsDb from '../db/projects';
import { HoneError, invalid, notFound } from '../errors';
import { mergeOverrides } from '../experiments/configOverrides';
import { submitExperiment } from '../experiments/submit';
import { longPoll } from './longPoll';
import { LogFilterQuery, logQueryOf, readLogs } from './logFilters';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
type Changeable = (req: { user?: UserIdentity }, id: number, what: string) => Promise<ExperimentSummary>;

/** Reads a YAML text or mapping of overrides (for fork and continue); a field error names `config`. */
export function overridesOf(raw: string | Record<string, unknown> | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let v: unknown = raw;
  if (typeof raw === 'string') {
    try {
      v = parseYaml(raw);
    } catch (e) {
      throw new HoneError('INVALID_CONFIG', `config: the overrides are not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new HoneError('INVALID_CONFIG', 'config: the overrides must be a mapping of config fields');
  return v as Record<string, unknown>;
}

/** The original config as its user wrote it (the stored YAML), as a mapping. */
export function originalConfig(configYaml: string, fallback: unknown): Record<string, unknown> {
  try {
    const v = parseYaml(configYaml);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // The stored YAML was accepted once; fall back to the parsed config if it no longer reads.
  }
  return fallback as Record<string, unknown>;
}

/** Applies the descriptive edits of a PATCH (scheduling fields are the controller's). */
export async function editExperiment(ctx: MasterContext, id: number, b: PatchExperimentBody, actor: string): Promise<void> {
  let projectId: number | undefined;
  if (b.project !== undefined) {
    const pid = await projectsDb.projectId(ctx.db, b.project);
    if (pid === null) throw new HoneError('NOT_FOUND', `project: no project named "${b.project}"`);
    projectId = pid;
  }
  if (b.name !== undefined && b.name.trim() === '') throw invalid('name: must not be empty');
  const labels = b.labels === undefined ? undefined : [...new Set(b.labels)];
  const edit = {
    ...(b.name !== undefined ? { name: b.name } : {}),
    ...(b.description !== undefined ? { description: b.description } : {}),
    ...(b.notes !== undefined ? { notes: b.notes } : {}),
    ...(labels !== undefined ? { labels } : {}),
    ...(projectId !== undefined ? { projectId } : {}),
  };
  if (!Object.keys(edit).length) return;
  await experimentsDb.editExperiment(ctx.db, id, edit);
  const fields = Object.keys(edit).map((k) => (k === 'projectId' ? 'project' : k));
  await recordAudit(ctx.db, { username: actor, action: `edit ${fields.join(', ')}`, experimentId: id, details: { ...b, ...(b.notes !== undefined ? { notes: `(${b.notes.length} characters)` } : {}) } });
  await publish(ctx, id);
}

async function publish(ctx: MasterContext, id: number): Promise<ExperimentSummary> {
  const e = await experimentsDb.getExperimentSummary(ctx.db, id);
  if (!e) throw notFound('experiment', id);
  ctx.bus.publish({ type: 'experiment', experiment: e });
  return e;
}

export function registerExperimentManagementRoutes(app: App, ctx: MasterContext, changeable: Changeable): void {
  app.post(
    `${API_PREFIX}/experiments/:id/fork`,
    {
      schema: {
        params: IdParams,
        tags: ['experiments'],
        body: Type.Object(
          {
            config: Type.Optional(Type.Union([Type.String({ maxLength: 1048576 }), Type.Record(Type.String(), Type.Unknown())])),
            activate: Type.Optional(Type.Boolean()),
            project: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const original = await experimentsDb.getExperimentDetail(ctx.db, id);
      if (!original) throw notFound('experiment', id);
      const config = mergeOverrides(originalConfig(original.configYaml, original.config), overridesOf(req.body.config));
      // A fork lands in the original's project unless the overrides or the request name another.
      if (req.body.project === undefined && config.project === undefined && original.project !== 'default') config.project = original.project;
      const newId = await submitExperiment(ctx, {
        config,
        context: await experimentsDb.getContext(ctx.db, id),
        activate: req.body.activate !== false,
        owner: req.user!.username,
        forkedFrom: id,
        ...(req.body.project !== undefined ? { project: req.body.project } : {}),
      });
      return reply.status(201).send(await experimentsDb.getExperimentSummary(ctx.db, newId));
    },
  );

  for (const archived of [true, false]) {
    app.post(`${API_PREFIX}/experiments/:id/${archived ? 'archive' : 'unarchive'}`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req) => {
      const { id } = req.params;
      const exp = await changeable(req, id, archived ? 'archive' : 'unarchive');
      if (archived && !TERMINAL_EXPERIMENT_STATES.includes(exp.state)) {
        throw new HoneError('CONFLICT', `experiment ${id} is ${exp.state}; only an ended experiment can be archived (kill it first)`);
      }
      if (exp.archived !== archived) {
        await experimentsDb.editExperiment(ctx.db, id, { archived });
        await recordAudit(ctx.db, { username: req.user!.username, action: archived ? 'archive' : 'unarchive', experimentId: id });
      }
      return publish(ctx, id);
    });
  }

  const Label = Type.String({ minLength: 1, maxLength: 256 });
  app.post(
    `${API_PREFIX}/experiments/:id/labels`,
    { schema: { params: IdParams, tags: ['experiments'], body: Type.Object({ label: Label }, { additionalProperties: false }) } },
    async (req) => {
      const { id } = req.params;
      const exp = await changeable(req, id, 'label');
      if (!exp.labels.includes(req.body.label)) {
        if (exp.labels.length >= 100) throw invalid('label: an experiment has at most 100 labels');
        await editExperiment(ctx, id, { labels: [...exp.labels, req.body.label] }, req.user!.username);
      }
      return publish(ctx, id);
    },
  );

  app.delete(
    `${API_PREFIX}/experiments/:id/labels/:label`,
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }), label: Label }), tags: ['experiments'] } },
    async (req) => {
      const { id, label } = req.params;
      const exp = await changeable(req, id, 'label');
      if (!exp.labels.includes(label)) throw new HoneError('NOT_FOUND', `label: experiment ${id} has no label "${label}"`);
      await editExperiment(ctx, id, { labels: exp.labels.filter((l) => l !== label) }, req.user!.username);
      return publish(ctx, id);
    },
  );

  app.get(
    `${API_PREFIX}/experiments/:id/logs`,
    { schema: { params: IdParams, tags: ['experiments'], querystring: Type.Object({ ...LogFilterQuery.properties, trial: Type.Optional(Type.Integer({ minimum: 1 })) }) } },
    async (req, reply) => {
      const { id } = req.params;
      const q = req.query;
      const exp = await experimentsDb.getExperimentSummary(ctx.db, id);
      if (!exp) throw notFound('experiment', id);
      let ended = TERMINAL_EXPERIMENT_STATES.includes(exp.state);
      const query = { ...logQueryOf(q), experimentId: id, ...(q.trial !== undefined ? { trialId: q.trial } : {}) };
      const logs = await longPoll<TaskLog[]>(ctx.bus, reply, {
        read: () => readLogs(ctx, query),
        ready: (l) => l.length > 0 || ended,
        wake: (e) => {
          if (e.type === 'experiment' && e.experiment.id === id && TERMINAL_EXPERIMENT_STATES.includes(e.experiment.state)) ended = true;
          return (e.type === 'log' && (q.trial === undefined || e.log.trialId === q.trial)) || ended;
        },
        waitMs: q.wait_s * 1000,
      });
      const now = await experimentsDb.getExperimentSummary(ctx.db, id);
      reply.header('x-experiment-state', now?.state ?? exp.state);
      return logs;
    },
  );

  app.get(`${API_PREFIX}/experiments/:id/model-def`, { schema: { params: IdParams, tags: ['experiments'] } }, async (req: FastifyRequest<{ Params: { id: number } }>, reply) => {
    const { id } = req.params;
    if (!(await experimentsDb.experimentExists(ctx.db, id))) throw notFound('experiment', id);
    const data = await experimentsDb.getContext(ctx.db, id);
    if (!data) return reply.status(204).send();
    reply.header('x-context-digest', await experimentsDb.getContextDigest(ctx.db, id));
    reply.header('content-disposition', `attachment; filename="experiment-${id}-model-def.tar.gz"`);
    return reply.type('application/gzip').send(data);
  });
}

