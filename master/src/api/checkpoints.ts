// Checkpoints: the harness writes files to checkpoint storage (shared_fs or s3 directly, or the master over HTTP)
// and then registers the checkpoint. Users describe and download them.
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from 'typebox';
import * as tar from 'tar';
import { API_PREFIX } from '@hone/protocol';
import { ReportCheckpointBodySchema as ReportCheckpointBody } from '@hone/protocol/schemas';
import type { App, MasterContext } from '../context';
import { checkpointKeyPrefix, listCheckpointObjects, tarCheckpointObjects, type S3Location } from '../checkpoints/s3';
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

/** The file path of a checkpoint file request, checked: a UUID, and a relative path naming a file inside it. */
function checkpointFilePath(uuid: string, rel: string | undefined): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) throw invalid('uuid: must be a UUID');
  if (!rel || rel.endsWith('/')) throw invalid('path: must name a file inside the checkpoint');
  const norm = safeRelative(rel);
  if (norm === OWNER_FILE || norm.split('/').some((part) => part === '' || part === '.')) throw invalid(`path: "${rel}" is not a file name Hone accepts`);
  return norm;
}

/** Marks which trial writes a checkpoint's files; refuses another trial's writes. */
async function claimCheckpointDir(dir: string, trialId: number, uuid: string): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  try {
    await fs.promises.writeFile(path.join(dir, OWNER_FILE), String(trialId), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    if ((await checkpointOwner(dir)) !== trialId) throw new HoneError('PERMISSION_DENIED', `checkpoint ${uuid} belongs to another trial`);
  }
}

async function checkpointOwner(dir: string): Promise<number | null> {
  try {
    return Number(await fs.promises.readFile(path.join(dir, OWNER_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/** Name of the marker file in a master-hosted checkpoint directory (never a checkpoint file itself). */
const OWNER_FILE = '.hone-trial';

export function registerCheckpointRoutes(app: App, ctx: MasterContext): void {
  app.post(
    `${API_PREFIX}/trials/:id/checkpoints`,
    { config: { auth: 'task' }, schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }), body: ReportCheckpointBody, tags: ['harness'] } },
    async (req) => {
      const { id } = req.params;
      const alloc = await ctx.taskAuth.trial(req, id);
      const b = req.body;
      for (const f of Object.keys(b.resources)) safeRelative(f);
      const owner = await checkpointOwner(path.join(ctx.checkpointDir, b.uuid));
      if (owner !== null && owner !== id) throw new HoneError('PERMISSION_DENIED', `checkpoint ${b.uuid} belongs to another trial`);
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

  app.get(`${API_PREFIX}/checkpoints/:uuid`, { config: { auth: 'any' }, schema: { params: UuidParams, tags: ['checkpoints'] } }, async (req) => {
    if (!req.user) await ctx.taskAuth.task(req);
    const c = await getCheckpoint(ctx.db, req.params.uuid);
    if (!c) throw notFound('checkpoint', req.params.uuid);
    return c;
  });

  // Master-hosted storage: the harness uploads and downloads files one by one. A checkpoint's directory belongs
  // to the trial that wrote its first file (a marker file says which), and is sealed once registered.
  app.put(`${API_PREFIX}/checkpoints/:uuid/files/*`, { config: { auth: 'task' }, schema: { hide: true } }, async (req, reply) => {
    const { uuid } = req.params as { uuid: string };
    const task = await ctx.taskAuth.task(req);
    const rel = checkpointFilePath(uuid, (req.params as Record<string, string>)['*']);
    const body = req.body as NodeJS.ReadableStream | undefined;
    if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') {
      throw new HoneError('UNSUPPORTED_MEDIA_TYPE', 'body: send the file as application/octet-stream');
    }
    if (await getCheckpoint(ctx.db, uuid)) throw new HoneError('CONFLICT', `checkpoint ${uuid} is registered; its files can no longer change`);
    const dir = path.join(ctx.checkpointDir, uuid);
    await claimCheckpointDir(dir, task.trial_id, uuid);
    const dest = path.join(dir, rel);
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.part-${process.pid}-${Date.now()}`;
    let size = 0;
    const limit = ctx.opts.maxCheckpointFileBytes;
    try {
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            size += chunk.length;
            if (size > limit) done(new HoneError('PAYLOAD_TOO_LARGE', `checkpoint file ${rel} is larger than the limit of ${Math.round(limit / 1048576)} MiB`));
            else done(null, chunk);
          },
        }),
        fs.createWriteStream(tmp),
      );
      await fs.promises.rename(tmp, dest);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      // The client may still be sending: answer now and close, rather than read the rest.
      reply.header('connection', 'close');
      throw e;
    }
    return { size };
  });

  app.get(`${API_PREFIX}/checkpoints/:uuid/files/*`, { config: { auth: 'any' }, schema: { hide: true } }, async (req, reply) => {
    const { uuid } = req.params as { uuid: string };
    const rel = checkpointFilePath(uuid, (req.params as Record<string, string>)['*']);
    const c = await getCheckpoint(ctx.db, uuid);
    if (!req.user) {
      // A task reads registered checkpoints, and the files its own trial is writing.
      const task = await ctx.taskAuth.task(req);
      if (!c && (await checkpointOwner(path.join(ctx.checkpointDir, uuid))) !== task.trial_id) throw notFound('checkpoint', uuid);
    }
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
    if (c.storage.type === 's3') {
      // Streamed from the bucket through the master, so the user needs no AWS credentials of their own.
      const loc = c.storage as unknown as S3Location;
      const present = await listCheckpointObjects(loc, req.params.uuid);
      const missing = Object.keys(c.resources).filter((f) => !present.has(f));
      if (missing.length) {
        throw new HoneError('NOT_FOUND', `checkpoint ${req.params.uuid} is missing ${missing.length} file(s) in s3://${loc.bucket}/${checkpointKeyPrefix(loc, req.params.uuid)} (e.g. ${missing[0]})`);
      }
      reply.header('content-disposition', `attachment; filename="checkpoint-${req.params.uuid}.tar.gz"`);
      reply.type('application/gzip');
      return reply.send(tarCheckpointObjects(loc, req.params.uuid, Object.keys(c.resources)));
    }
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
