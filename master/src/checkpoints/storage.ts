// Where the master finds a checkpoint's files, by the storage it was written to.
import fs from 'node:fs';
import path from 'node:path';
import type { CheckpointStorageConfig } from '@hone/protocol';
import { HoneError } from '../errors';

/** Directory holding a checkpoint's files: under the master's data directory, or in the shared filesystem. */
export function checkpointDirFor(checkpointDir: string, storage: CheckpointStorageConfig | Record<string, unknown>, uuid: string): string {
  const s = storage as { type: string; host_path?: string; storage_path?: string };
  if (s.type === 'shared_fs') return path.join(s.host_path ?? '', s.storage_path ?? '', uuid);
  if (s.type === 'master') return path.join(checkpointDir, uuid);
  throw new HoneError('UNSATISFIABLE', `checkpoint storage "${s.type}" is not readable by the master`);
}

/**
 * Removes a checkpoint's files from the storage it was written to. A checkpoint whose files are already gone counts
 * as removed (GC or a deletion that is run again after a crash finds nothing, and succeeds); any other failure
 * (a permission, a path that is not a directory) throws, so the caller keeps the rows that point at the files.
 */
export async function removeCheckpointFiles(checkpointDir: string, storage: CheckpointStorageConfig | Record<string, unknown>, uuid: string): Promise<void> {
  const s = storage as { type: string };
  if (s.type === 'shared_fs' || s.type === 'master') {
    // force: a missing directory is not an error; recursive: the checkpoint is a directory of files.
    await fs.promises.rm(checkpointDirFor(checkpointDir, storage, uuid), { recursive: true, force: true });
    return;
  }
  throw new HoneError('UNSATISFIABLE', `checkpoint storage "${s.type}" cannot be deleted by the master`);
}
