// The master's side of S3 checkpoint storage: it lists, streams (for `hone checkpoint download`, so users need no
// AWS credentials of their own) and deletes (GC) the objects `<prefix>/<uuid>/<relpath>` the harness wrote.
// Credentials come from the AWS SDK's default chain in the master's own environment.
import { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import { HoneError } from '../errors';

export interface S3Location {
  bucket: string;
  prefix?: string;
  endpoint_url?: string;
  region?: string;
}

/** The key prefix holding every file of one checkpoint, ending in '/'. */
export function checkpointKeyPrefix(cfg: S3Location, uuid: string): string {
  const prefix = (cfg.prefix ?? '').replace(/^\/+|\/+$/g, '');
  return prefix ? `${prefix}/${uuid}/` : `${uuid}/`;
}

const clients = new Map<string, S3Client>();

/** One client per bucket configuration. As in the harness: `endpoint_url` means an S3-compatible server, path-style. */
export function s3ClientFor(cfg: S3Location): S3Client {
  const key = JSON.stringify([cfg.endpoint_url ?? '', cfg.region ?? '']);
  let client = clients.get(key);
  if (!client) {
    const region = cfg.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (cfg.endpoint_url ? 'us-east-1' : undefined);
    const opts: S3ClientConfig = { followRegionRedirects: true, ...(region ? { region } : {}) };
    if (cfg.endpoint_url) {
      Object.assign(opts, {
        endpoint: cfg.endpoint_url,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      } satisfies S3ClientConfig);
    }
    clients.set(key, (client = new S3Client(opts)));
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
 * The caller checks first that every file exists; a failure midway ends the stream with an error.
 */
export function tarCheckpointObjects(cfg: S3Location, uuid: string, files: string[], client = s3ClientFor(cfg)): tar.Pack {
  const pack = new tar.Pack({ gzip: true, portable: true });
  const prefix = checkpointKeyPrefix(cfg, uuid);
  const mtime = new Date();
  void (async () => {
    for (const rel of files) {
      const r = await client.send(new GetObjectCommand({ Bucket: cfg.bucket, Key: prefix + rel }));
      const size = Number(r.ContentLength ?? 0);
      const entry = new tar.ReadEntry(new tar.Header({ path: rel, type: 'File', size, mode: 0o644, mtime }));
      pack.add(entry);
      const body = r.Body as Readable | undefined;
      if (body) {
        for await (const chunk of body) {
          if (!entry.write(chunk as Buffer)) await new Promise((resolve) => entry.once('drain', resolve));
        }
      }
      entry.end();
    }
    pack.end();
  })().catch((e: unknown) => pack.emit('error', unavailable(cfg, `reading ${prefix}`, e)));
  return pack;
}
