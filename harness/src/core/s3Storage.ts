// S3 checkpoint storage: each file of checkpoint <uuid> is the object `<prefix>/<uuid>/<relpath>` in the bucket.
// Credentials come from the AWS SDK's default chain (AWS_* environment variables, then the shared config and
// credentials files with AWS_PROFILE, then container or instance metadata), which the agent passes through.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { checkpointKeyPrefix, s3ClientOptions, type S3Location } from '@hone/protocol/s3';

export type S3StorageConfig = S3Location;

/** The object key of one checkpoint file. */
export function s3Key(cfg: { prefix?: string }, uuid: string, rel: string): string {
  return `${checkpointKeyPrefix(cfg, uuid)}${rel}`;
}

/** A client for the configured bucket (options shared with the master: protocol/src/s3.ts). */
export function s3ClientFor(cfg: S3StorageConfig, env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client(s3ClientOptions(cfg, env));
}

/** Smallest part S3 accepts in a multipart upload (every part but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3StorageOptions {
  client?: S3Client;
  /** Multipart part size in bytes (at least 5 MiB); files larger than one part are uploaded in parts. */
  partSize?: number;
  /** Parts uploaded at once per file. */
  queueSize?: number;
}

export function s3CheckpointStorage(cfg: S3StorageConfig, opts: S3StorageOptions = {}) {
  const client = opts.client ?? s3ClientFor(cfg);
  const partSize = Math.max(MIN_PART_SIZE, opts.partSize ?? 16 * 1024 * 1024);
  const where = (uuid: string, rel: string) => `s3://${cfg.bucket}/${s3Key(cfg, uuid, rel)}`;
  return {
    async write(uuid: string, files: Record<string, Uint8Array>): Promise<Record<string, number>> {
      const resources: Record<string, number> = {};
      for (const [rel, data] of Object.entries(files)) {
        try {
          // Upload sends one PutObject for a file within one part, a multipart upload (aborted on failure) above.
          await new Upload({
            client,
            params: { Bucket: cfg.bucket, Key: s3Key(cfg, uuid, rel), Body: data, ContentType: 'application/octet-stream' },
            partSize,
            queueSize: opts.queueSize ?? 4,
            leavePartsOnError: false,
          }).done();
        } catch (e) {
          throw new Error(`checkpoint upload to ${where(uuid, rel)} failed: ${(e as Error).message}`, { cause: e });
        }
        resources[rel] = data.byteLength;
      }
      return resources;
    },
    async read(uuid: string, relPaths: string[]): Promise<Record<string, Uint8Array>> {
      const out: Record<string, Uint8Array> = {};
      for (const rel of relPaths) {
        try {
          const r = await client.send(new GetObjectCommand({ Bucket: cfg.bucket, Key: s3Key(cfg, uuid, rel) }));
          if (!r.Body) throw new Error('empty response');
          out[rel] = await r.Body.transformToByteArray();
        } catch (e) {
          throw new Error(`checkpoint download of ${where(uuid, rel)} failed: ${(e as Error).name === 'NoSuchKey' ? 'no such object' : (e as Error).message}`, { cause: e });
        }
      }
      return out;
    },
  };
}
