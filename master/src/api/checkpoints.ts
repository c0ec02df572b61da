// Checkpoints: the harness writes files to checkpoint storage (shared_fs directly, or the master over HTTP)
// and then registers the checkpoint. Users describe and download them.
import fs from 'node:fs';
import path from 'node:path';
import { Type } from 'typebox';
import * as tar from 'tar';
import { API_PREFIX } from '@hone/protocol';
import { ReportCheckpointBodySchema as ReportCheckpointBody } from '@hone/protocol/schemas';
import type { App, MasterContext } from '../context';
import { checkpointDirFor } from '../checkpoints/storage';
import { getCheckpoint, insertCheckpoint } from '../db/checkpoints';
import { getExperimentConfig } from '../db/experiments';
import { setLatestCheckpoint } from '../db/trials';
import { HoneError, invalid, notFound } from '../errors';

const UuidParams = Type.Object({ uuid: Type.String({ format: 'uuid' }) });

function safeRelative(p: string): string {
  const norm = path.posix.normalize(p.replace(/\\/g, '/'));
  if (!norm || norm.startsWith('..') || path.posix.isAbsolute(norm) || norm.includes('\0')) throw invalid(`path: "${p}" is not a relative path inside the checkpoint`);
  return norm;
}

export function registerCheckpointRoutes(app: App, ctx: MasterContext): void {
  app.post(
    `${API_PREFIX}/trials/:id/checkpoints`,
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }), body: ReportCheckpointBody, tags: ['harness'] } },
    async (req) => {
      const { id } = req.params;
      const alloc = await ctx.taskAuth.trial(req, id, { live: true });
      const b = req.body;
      for (const f of Object.keys(b.resources)) safeRelative(f);
      const config = await getExperimentConfig(ctx.db, alloc.experiment_id);
      if (!config) throw notFound('experiment', alloc.experiment_id);
      await ctx.db.transaction(async (tx) => {
        await insertCheckpoint(tx, {
          uuid: b.uuid,
          trialId: id,
          experimentId: alloc.experiment_id,
          allocationId: alloc.id,
          stepsCompleted: b.stepsCompleted,
          storage: config.checkpoint_storage,
          resources: b.resources,
          metadata: b.metadata ?? {},
        });
        await setLatestCheckpoint(tx, id, b.uuid, b.stepsCompleted);
      });
      return getCheckpoint(ctx.db, b.uuid);
    },
  );

  app.get(`${API_PREFIX}/checkpoints/:uuid`, { schema: { params: UuidParams, tags: ['checkpoints'] } }, async (req) => {
    const c = await getCheckpoint(ctx.db, req.params.uuid);
    if (!c) throw notFound('checkpoint', req.params.uuid);
    return c;
  });

  // Master-hosted storage: the harness uploads and downloads files one by one.
  app.put(`${API_PREFIX}/checkpoints/:uuid/files/*`, { schema: { hide: true } }, async (req) => {
    const { uuid } = req.params as { uuid: string };
    await ctx.taskAuth.task(req);
    if (!/^[0-9a-f-]{36}$/i.test(uuid)) throw invalid('uuid: must be a UUID');
    const rel = safeRelative((req.params as Record<string, string>)['*'] ?? '');
    const body = req.body;
    if (!Buffer.isBuffer(body)) throw invalid('body: send the file as application/octet-stream');
    const dest = path.join(ctx.checkpointDir, uuid, rel);
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.part-${process.pid}-${Date.now()}`;
    await fs.promises.writeFile(tmp, body);
    await fs.promises.rename(tmp, dest);
    return { size: body.length };
  });

  app.get(`${API_PREFIX}/checkpoints/:uuid/files/*`, { schema: { hide: true } }, async (req, reply) => {
    const { uuid } = req.params as { uuid: string };
    const rel = safeRelative((req.params as Record<string, string>)['*'] ?? '');
    if (!/^[0-9a-f-]{36}$/i.test(uuid)) throw invalid('uuid: must be a UUID');
    const c = await getCheckpoint(ctx.db, uuid);
    // The harness may read files of a checkpoint it is about to register (none yet): default to master storage.
    const dir = c ? checkpointDirFor(ctx.checkpointDir, c.storage, uuid) : path.join(ctx.checkpointDir, uuid);
    const file = path.join(dir, rel);
    if (!fs.existsSync(file)) throw notFound('checkpoint file', `${uuid}/${rel}`);
    return reply.type('application/octet-stream').send(fs.createReadStream(file));
  });

  app.get(`${API_PREFIX}/checkpoints/:uuid/download`, { schema: { params: UuidParams, tags: ['checkpoints'] } }, async (req, reply) => {
    const c = await getCheckpoint(ctx.db, req.params.uuid);
    if (!c) throw notFound('checkpoint', req.params.uuid);
    if (c.state === 'DELETED') throw new HoneError('NOT_FOUND', `checkpoint ${req.params.uuid} was garbage-collected`);
    const dir = checkpointDirFor(ctx.checkpointDir, c.storage, req.params.uuid);
    const files = Object.keys(c.resources).filter((f) => fs.existsSync(path.join(dir, f)));
    if (files.length !== Object.keys(c.resources).length) {
      throw new HoneError('NOT_FOUND', `checkpoint ${req.params.uuid} is missing files in its storage (${dir})`);
    }
    reply.header('content-disposition', `attachment; filename="checkpoint-${req.params.uuid}.tar.gz"`);
    reply.type('application/gzip');
    return reply.send(tar.c({ gzip: true, cwd: dir, portable: true }, files));
  });
}
