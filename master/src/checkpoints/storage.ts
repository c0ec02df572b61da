// Where the master finds a checkpoint's files, by the storage it was written to, and how it removes them.
import fs from 'node:fs';
import path from 'node:path';
import type { CheckpointStorageConfig } from '@hone/protocol';
import { HoneError } from '../errors';
import { deleteCheckpointObjects, type S3Location } from './s3';

/** Directory holding a checkpoint's files: under the master's data directory, or in the shared filesystem. */
export function checkpointDirFor(checkpointDir: string, storage: CheckpointStorageConfig | Record<string, unknown>, uuid: string): string {
  const s = storage as { type: string; host_path?: string; storage_path?: string };
  if (s.type === 'shared_fs') return path.join(s.host_path ?? '', s.storage_path ?? '', uuid);
  if (s.type === 'master') return path.join(checkpointDir, uuid);
  throw new HoneError('UNSATISFIABLE', `checkpoint storage "${s.type}" is not readable by the master as a directory`);
}

/**
 * Removes every file of checkpoint `uuid` from the storage it was written to: its directory (master-hosted or
 * shared_fs), or its objects under `<prefix>/<uuid>/` (s3). Files already gone count as removed, so it can be
 * retried; a storage that cannot be reached throws, and the caller keeps the checkpoint's row for a later try.
 */
export async function removeCheckpointFiles(checkpointDir: string, storage: CheckpointStorageConfig | Record<string, unknown>, uuid: string): Promise<void> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) throw new HoneError('INVALID_ARGUMENT', `uuid: "${uuid}" is not a checkpoint UUID`);
  const type = (storage as { type?: string }).type;
  if (type === 'master' || type === 'shared_fs') {
    await fs.promises.rm(checkpointDirFor(checkpointDir, storage, uuid), { recursive: true, force: true });
    return;
  }
  if (type === 's3') {
    await deleteCheckpointObjects(storage as unknown as S3Location, uuid);
    return;
  }
  throw new HoneError('UNSATISFIABLE', `checkpoint storage "${type}" is not one the master can delete from`);
}
