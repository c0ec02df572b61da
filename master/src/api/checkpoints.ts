// Checkpoints: the harness writes files to checkpoint storage (shared_fs directly, or the master over HTTP)
// and then registers the checkpoint. Users describe and download them.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Type } from 'typebox';
import * as tar from 'tar';
import type { ExperimentConfig } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { ReportCheckpointBodySchema as ReportCheckpointBody } from '@hone/protocol/schemas';
import { HoneError, invalid, notFound } from '../errors';
import { toCheckpointInfo } from '../experiments/rows';
import type { App, MasterContext } from '../server';
import { authenticateTask, authenticateTrialTask } from './auth';

const UuidParams = Type.Object({ uuid: Type.String({ format: 'uuid' }) });

/** Directory holding a checkpoint's files for the storage it was written to. */
export function checkpointDirFor(ctx: MasterContext, storage: { type: string; host_path?: string; storage_path?: string }, uuid: string): string {
  if (storage.type === 'shared_fs') return path.join(storage.host_path ?? "", storage.storage_path ?? '', uuid);
  if (storage.type === 'master') return path.join(ctx.checkpointDir, uuid);
  throw new HoneError('UNSATISFIABLE', `checkpoint storage "${storage.type}" is not readable by the master`);
}

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
      const alloc = await authenticateTrialTask(ctx, req, id, { live: true });
      const b = req.body;
      for (const f of Object.keys(b.resources)) safeRelative(f);
      const e = await ctx.db.query<{ config: ExperimentConfig }>('SELECT config FROM experiments WHERE id = $1', [alloc.experiment_id]);
      const storage = e.rows[0]!.config.checkpoint_storage;
      await ctx.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO checkpoints (uuid, trial_id, experiment_id, allocation_id, steps_completed, storage, resources, metadata)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (uuid) DO NOTHING`,
          [b.uuid, id, alloc.experiment_id, alloc.id, b.stepsCompleted, JSON.stringify(storage), JSON.stringify(b.resources), JSON.stringify(b.metadata ?? {})],
        );
        await tx.query(
          `UPDATE trials SET latest_checkpoint = $2 WHERE id = $1 AND (latest_checkpoint IS NULL OR
             (SELECT steps_completed FROM checkpoints WHERE uuid = trials.latest_checkpoint) <= $3)`,
          [id, b.uuid, b.stepsCompleted],
        );
      });
      const r = await ctx.db.query('SELECT * FROM checkpoints WHERE uuid = $1', [b.uuid]);
      return toCheckpointInfo(r.rows[0]);
    },
  );

  app.get(`${API_PREFIX}/checkpoints/:uuid`, { schema: { params: UuidParams, tags: ['checkpoints'] } }, async (req) => {
    const r = await ctx.db.query('SELECT * FROM checkpoints WHERE uuid = $1', [req.params.uuid]);
    if (!r.rows[0]) throw notFound('checkpoint', req.params.uuid);
    return toCheckpointInfo(r.rows[0]);
  });

  // Master-hosted storage: the harness uploads and downloads files one by one.
  app.put(`${API_PREFIX}/checkpoints/:uuid/files/*`, { schema: { hide: true } }, async (req) => {
    const { uuid } = req.params as { uuid: string };
    await authenticateTask(ctx, req);
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
    const r = await ctx.db.query<{ storage: any }>('SELECT storage FROM checkpoints WHERE uuid = $1', [uuid]);
    // The harness may read files of a checkpoint it is about to register (none yet): default to master storage.
    const dir = r.rows[0] ? checkpointDirFor(ctx, r.rows[0].storage, uuid) : path.join(ctx.checkpointDir, uuid);
    const file = path.join(dir, rel);
    if (!fs.existsSync(file)) throw notFound('checkpoint file', `${uuid}/${rel}`);
    return reply.type('application/octet-stream').send(fs.createReadStream(file));
  });

  app.get(`${API_PREFIX}/checkpoints/:uuid/download`, { schema: { params: UuidParams, tags: ['checkpoints'] } }, async (req, reply) => {
    const r = await ctx.db.query<{ storage: any; resources: Record<string, number>; state: string }>('SELECT storage, resources, state FROM checkpoints WHERE uuid = $1', [
      req.params.uuid,
    ]);
    const c = r.rows[0];
    if (!c) throw notFound('checkpoint', req.params.uuid);
    if (c.state === 'DELETED') throw new HoneError('NOT_FOUND', `checkpoint ${req.params.uuid} was garbage-collected`);
    const dir = checkpointDirFor(ctx, c.storage, req.params.uuid);
    const files = Object.keys(c.resources).filter((f) => fs.existsSync(path.join(dir, f)));
    if (files.length !== Object.keys(c.resources).length) {
      throw new HoneError('NOT_FOUND', `checkpoint ${req.params.uuid} is missing files in its storage (${dir})`);
    }
    reply.header('content-disposition', `attachment; filename="checkpoint-${req.params.uuid}.tar.gz"`);
    reply.type('application/gzip');
    return reply.send(tar.c({ gzip: true, cwd: dir, portable: true }, files));
  });
  void pipeline;
}
