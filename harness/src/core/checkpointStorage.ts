// Where checkpoint files go. The harness writes the files first, then registers the checkpoint with the master.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointStorageConfig } from '@hone/protocol';
import type { MasterClient } from './masterClient';
import { s3CheckpointStorage, type S3StorageConfig } from './s3Storage';

/** Files of one checkpoint, by relative path ('/'-separated). */
export type CheckpointFiles = Record<string, Uint8Array>;

export interface CheckpointStorage {
  /** Writes every file of checkpoint `uuid`; returns relative path → size in bytes. */
  write(uuid: string, files: CheckpointFiles): Promise<Record<string, number>>;
  /** Reads the named files of checkpoint `uuid`. */
  read(uuid: string, relPaths: string[]): Promise<CheckpointFiles>;
}

export function sharedFsDir(cfg: { host_path: string; storage_path?: string }, uuid: string): string {
  return path.join(cfg.host_path, cfg.storage_path ?? '', uuid);
}

/** One S3 client per bucket configuration, for the life of the harness (it caches credentials and connections). */
const s3Storages = new Map<string, ReturnType<typeof s3CheckpointStorage>>();

function safeRelative(rel: string): string {
  const norm = path.posix.normalize(rel.replace(/\\/g, '/'));
  if (norm.startsWith('../') || norm === '..' || path.posix.isAbsolute(norm)) throw new Error(`checkpoint file path escapes the checkpoint: ${rel}`);
  return norm;
}

export function checkpointStorage(cfg: CheckpointStorageConfig | Record<string, unknown>, client: MasterClient): CheckpointStorage {
  const type = (cfg as { type?: string }).type ?? 'master';
  if (type === 'shared_fs') {
    const c = cfg as { host_path: string; storage_path?: string };
    return {
      async write(uuid, files) {
        const dir = sharedFsDir(c, uuid);
        const resources: Record<string, number> = {};
        for (const [rel, data] of Object.entries(files)) {
          const p = path.join(dir, safeRelative(rel));
          await mkdir(path.dirname(p), { recursive: true });
          await writeFile(p, data);
          resources[rel] = data.byteLength;
        }
        return resources;
      },
      async read(uuid, relPaths) {
        const dir = sharedFsDir(c, uuid);
        const out: CheckpointFiles = {};
        for (const rel of relPaths) out[rel] = new Uint8Array(await readFile(path.join(dir, safeRelative(rel))));
        return out;
      },
    };
  }
  if (type === 'master') {
    return {
      async write(uuid, files) {
        const resources: Record<string, number> = {};
        for (const [rel, data] of Object.entries(files)) {
          await client.uploadCheckpointFile(uuid, safeRelative(rel), data);
          resources[rel] = data.byteLength;
        }
        return resources;
      },
      async read(uuid, relPaths) {
        const out: CheckpointFiles = {};
        for (const rel of relPaths) out[rel] = await client.downloadCheckpointFile(uuid, safeRelative(rel));
        return out;
      },
    };
  }
  if (type === 's3') {
    const c = cfg as S3StorageConfig;
    const key = JSON.stringify([c.bucket, c.prefix, c.endpoint_url, c.region]);
    let s3 = s3Storages.get(key);
    if (!s3) s3Storages.set(key, (s3 = s3CheckpointStorage(c)));
    const store = s3;
    return {
      async write(uuid, files) {
        return store.write(uuid, Object.fromEntries(Object.entries(files).map(([rel, d]) => [safeRelative(rel), d])));
      },
      async read(uuid, relPaths) {
        const got = await store.read(uuid, relPaths.map(safeRelative));
        return Object.fromEntries(relPaths.map((rel) => [rel, got[safeRelative(rel)]!]));
      },
    };
  }
  throw new Error(`checkpoint_storage.type ${type} is not supported by this harness (use shared_fs, master or s3)`);
}

/** Every regular file under dir, by '/'-separated relative path. */
export async function readDirFiles(dir: string): Promise<CheckpointFiles> {
  const out: CheckpointFiles = {};
  const walk = async (sub: string) => {
    for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(rel);
      else if (entry.isFile() || (await stat(path.join(dir, rel))).isFile()) out[rel] = new Uint8Array(await readFile(path.join(dir, rel)));
    }
  };
  await walk('');
  return out;
}

export async function writeDirFiles(dir: string, files: CheckpointFiles): Promise<void> {
  for (const [rel, data] of Object.entries(files)) {
    const p = path.join(dir, safeRelative(rel));
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, data);
  }
}
