// /api/v1/models: the model registry. A model is a name with versions; each version is a registered checkpoint
// with its source (trial, hyperparameters, metrics). Registered checkpoints are never garbage-collected.
import { Type } from 'typebox';
import type { ModelDetail, ModelInfo, ModelVersion, Page } from '@hone/protocol';
import { API_PREFIX, nameRefusal } from '@hone/protocol';
import type { App, MasterContext } from '../context';
import { requireOwnerOrAdmin } from '../auth/permissions';
import { getCheckpoint } from '../db/checkpoints';
import * as modelsDb from '../db/models';
import { HoneError, invalid, notFound } from '../errors';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
const Labels = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100 });

export function registerModelRoutes(app: App, ctx: MasterContext): void {
  app.get(
    `${API_PREFIX}/models`,
    {
      schema: {
        tags: ['models'],
        querystring: Type.Object({
          name: Type.Optional(Type.String({ maxLength: 128 })),
          offset: Type.Integer({ minimum: 0, default: 0 }),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        }),
      },
    },
    async (req): Promise<Page<ModelInfo>> => modelsDb.listModels(ctx.db, { ...(req.query.name ? { name: req.query.name } : {}), offset: req.query.offset, limit: req.query.limit }),
  );

  app.post(
    `${API_PREFIX}/models`,
    {
      schema: {
        tags: ['models'],
        body: Type.Object(
          { name: Type.String({ maxLength: 256 }), description: Type.Optional(Type.String({ maxLength: 16384 })), labels: Type.Optional(Labels) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const bad = nameRefusal(req.body.name);
      if (bad) throw invalid(`name: ${bad}`);
      const m = await modelsDb.insertModel(ctx.db, { name: req.body.name, description: req.body.description ?? '', owner: req.user!.username, labels: req.body.labels ?? [] });
      if (!m) throw new HoneError('CONFLICT', `name: a model named "${req.body.name}" already exists`);
      return reply.status(201).send(m);
    },
  );

  app.get(`${API_PREFIX}/models/:name`, { schema: { params: NameParams, tags: ['models'] } }, async (req): Promise<ModelDetail> => {
    const m = await modelsDb.getModel(ctx.db, req.params.name);
    if (!m) throw notFound('model', req.params.name);
    return { ...m, versions: await modelsDb.listModelVersions(ctx.db, m.name) };
  });

  app.patch(
    `${API_PREFIX}/models/:name`,
    {
      schema: {
        params: NameParams,
        tags: ['models'],
        body: Type.Object({ description: Type.Optional(Type.String({ maxLength: 16384 })), labels: Type.Optional(Labels) }, { additionalProperties: false }),
      },
    },
    async (req): Promise<ModelInfo> => {
      const m = await modelsDb.getModel(ctx.db, req.params.name);
      if (!m) throw notFound('model', req.params.name);
      requireOwnerOrAdmin(req.user!, m.owner, `edit model ${m.name}`);
      await modelsDb.editModel(ctx.db, m.name, { ...(req.body.description !== undefined ? { description: req.body.description } : {}), ...(req.body.labels ? { labels: req.body.labels } : {}) });
      return (await modelsDb.getModel(ctx.db, m.name))!;
    },
  );

  app.post(
    `${API_PREFIX}/models/:name/versions`,
    {
      schema: {
        params: NameParams,
        tags: ['models'],
        body: Type.Object({ checkpointUuid: Type.String({ format: 'uuid' }), notes: Type.Optional(Type.String({ maxLength: 65536 })) }, { additionalProperties: false }),
      },
    },
    async (req, reply): Promise<ModelVersion> => {
      const { name } = req.params;
      const uuid = req.body.checkpointUuid.toLowerCase();
      if (!(await modelsDb.getModel(ctx.db, name))) throw notFound('model', name);
      const c = await getCheckpoint(ctx.db, uuid);
      if (!c) throw new HoneError('NOT_FOUND', `checkpointUuid: checkpoint ${uuid} not found`);
      if (c.state !== 'COMPLETED') throw new HoneError('CONFLICT', `checkpointUuid: checkpoint ${uuid} was garbage-collected; register a checkpoint that still exists`);
      const v = await ctx.db.transaction((tx) => modelsDb.insertModelVersion(tx, name, uuid, req.user!.username, req.body.notes ?? ''));
      if (!v) throw notFound('model', name);
      return reply.status(201).send(v);
    },
  );

  app.get(
    `${API_PREFIX}/models/:name/versions/:version`,
    { schema: { params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }), version: Type.Integer({ minimum: 1 }) }), tags: ['models'] } },
    async (req): Promise<ModelVersion> => {
      const { name, version } = req.params;
      if (!(await modelsDb.getModel(ctx.db, name))) throw notFound('model', name);
      const v = await modelsDb.getModelVersion(ctx.db, name, version);
      if (!v) throw new HoneError('NOT_FOUND', `version: model ${name} has no version ${version}`);
      return v;
    },
  );
}
