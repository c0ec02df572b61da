// Where the master finds a checkpoint's files, by the storage it was written to.
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
