// Runs checkpoint GC for an ended experiment: removes the files of unkept checkpoints (master-hosted, shared_fs or
// s3), then marks them DELETED. Runs as a job (written with the experiment's end); idempotent: run again, it finds
// nothing more to delete.
import type { Logger } from 'pino';
import type { Database } from '../db';
import { listCollectable, markCheckpointDeleted } from '../db/checkpoints';
import { getExperimentConfig } from '../db/experiments';
import { checkpointsToDelete } from './gcPolicy';
import { removeCheckpointFiles } from './storage';

export async function collectCheckpoints(deps: { db: Database; checkpointDir: string; log: Logger }, experimentId: number): Promise<string[]> {
  const config = await getExperimentConfig(deps.db, experimentId);
  if (!config) return [];
  const cps = await listCollectable(deps.db, experimentId);
  const del = checkpointsToDelete(cps, config.checkpoint_storage, config.searcher.smaller_is_better);
  const byUuid = new Map(cps.map((c) => [c.uuid, c]));
  for (const uuid of del) {
    // The files first: a row marked DELETED never points at files that are still there.
    await removeCheckpointFiles(deps.checkpointDir, byUuid.get(uuid)!.storage, uuid);
    await markCheckpointDeleted(deps.db, uuid);
  }
  if (del.length) deps.log.info({ experiment: experimentId, deleted: del.length }, 'checkpoint garbage collection');
  return del;
}
