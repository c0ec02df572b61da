// The master's side of S3 checkpoint storage: it lists, streams (for `hone checkpoint download`, so users need no
// AWS credentials of their own) and deletes (GC) the objects `<prefix>/<uuid>/<relpath>` the harness wrote.
// Credentials come from the AWS SDK's default chain in the master's own environment.
import { PassThrough, type Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { checkpointKeyPrefix, s3ClientOptions, type S3Location } from '@hone/protocol/s3';
import * as tar from 'tar';
import { HoneError } from '../errors';

export { checkpointKeyPrefix, type S3Location } from '@hone/protocol/s3';

const clients = new Map<string, S3Client>();

/** One client per bucket configuration (options shared with the harness: protocol/src/s3.ts). */
export function s3ClientFor(cfg: S3Location): S3Client {
  const key = JSON.stringify([cfg.endpoint_url ?? '', cfg.region ?? '']);
  let client = clients.get(key);
  if (!client) {
    clients.set(key, (client = new S3Client(s3ClientOptions(cfg, process.env))));
  }
  return client;
}

function unavailable(cfg: S3Location, what: string, e: unknown): HoneError {
  return new HoneError('UNAVAILABLE', `checkpoint storage s3://${cfg.bucket}: ${what} failed: ${(e as Error).name}: ${(e as Error).message}`);
}

/** Every file of a checkpoint in the bucket: relative path → size. */
export async function listCheckpointObjects(cfg: S3Location, uuid: string, client = s3ClientFor(cfg)): Promise<Map<string, number>> {
  const prefix = checkpointKeyPrefix(cfg, uuid);
  const out = new Map<string, number>();
  let token: string | undefined;
  try {
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: cfg.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) out.set(o.Key.slice(prefix.length), o.Size ?? 0);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } catch (e) {
    throw unavailable(cfg, `listing ${prefix}`, e);
  }
  return out;
}

/** Deletes every object of a checkpoint; objects already gone count as deleted. */
export async function deleteCheckpointObjects(cfg: S3Location, uuid: string, client = s3ClientFor(cfg)): Promise<number> {
  const prefix = checkpointKeyPrefix(cfg, uuid);
  const keys = [...(await listCheckpointObjects(cfg, uuid, client)).keys()].map((rel) => prefix + rel);
  for (let i = 0; i < keys.length; i += 1000) {
    let r;
    try {
      r = await client.send(new DeleteObjectsCommand({ Bucket: cfg.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    } catch (e) {
      throw unavailable(cfg, `deleting ${prefix}`, e);
    }
    const failed = (r.Errors ?? []).filter((x) => x.Code !== 'NoSuchKey');
    if (failed.length) {
      throw new HoneError('UNAVAILABLE', `checkpoint storage s3://${cfg.bucket}: could not delete ${failed.length} object(s) under ${prefix}, e.g. ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`.trim());
    }
  }
  return keys.length;
}

/**
 * A gzipped tar of the named files, streamed object by object from the bucket (never all in memory or on disk).
 * The caller checks first that every file exists; a failure midway ends the stream with an error. A reader that
 * goes away (the client disconnected) aborts the object being read.
 */
export function tarCheckpointObjects(cfg: S3Location, uuid: string, files: string[], client = s3ClientFor(cfg)): Readable {
  const pack = new tar.Pack({ gzip: true, portable: true });
  const out = new PassThrough();
  const ac = new AbortController();
  out.on('close', () => {
    if (!out.readableEnded) ac.abort();
  });
  pack.on('error', (e: unknown) => out.destroy(e as Error));
  pack.pipe(out);
  const aborted = new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
  const prefix = checkpointKeyPrefix(cfg, uuid);
  const mtime = new Date();
  void (async () => {
    for (const rel of files) {
      const r = await client.send(new GetObjectCommand({ Bucket: cfg.bucket, Key: prefix + rel }), { abortSignal: ac.signal });
      const entry = new tar.ReadEntry(new tar.Header({ path: rel, type: 'File', size: Number(r.ContentLength ?? 0), mode: 0o644, mtime }));
      pack.add(entry);
      for await (const chunk of (r.Body as Readable | undefined) ?? []) {
        if (!entry.write(chunk as Buffer)) await Promise.race([new Promise((resolve) => entry.once('drain', resolve)), aborted]);
        if (ac.signal.aborted) throw new Error('the reader went away');
      }
      entry.end();
    }
    pack.end();
  })().catch((e: unknown) => {
    if (ac.signal.aborted) pack.destroy();
    else out.destroy(unavailable(cfg, `reading ${prefix}`, e));
  });
  return out;
}
