// Runs checkpoint GC for an ended experiment: marks unkept checkpoints DELETED and removes their files
// (master-hosted or shared_fs). Idempotent: run again, it finds nothing more to delete.
import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentConfig } from '@hone/protocol';
import type { MasterContext } from '../server';
import { checkpointsToDelete } from './gcPolicy';

export async function collectCheckpoints(ctx: MasterContext, experimentId: number): Promise<string[]> {
  const e = await ctx.db.query<{ config: ExperimentConfig }>('SELECT config FROM experiments WHERE id = $1', [experimentId]);
  const config = e.rows[0]?.config;
  if (!config) return [];
  const r = await ctx.db.query<{ uuid: string; trial_id: number; steps_completed: number; metric: number | null; storage: any }>(
    `SELECT c.uuid, c.trial_id, c.steps_completed, c.storage,
            (SELECT (m.metrics->>$2)::float8 FROM metrics m WHERE m.trial_id = c.trial_id AND m.grp = 'validation'
               AND m.steps_completed = c.steps_completed ORDER BY m.id DESC LIMIT 1) AS metric
       FROM checkpoints c WHERE c.experiment_id = $1 AND c.state = 'COMPLETED'`,
    [experimentId, config.searcher.metric],
  );
  const del = checkpointsToDelete(
    r.rows.map((c) => ({ uuid: c.uuid, trialId: Number(c.trial_id), stepsCompleted: Number(c.steps_completed), metric: c.metric })),
    config.checkpoint_storage,
    config.searcher.smaller_is_better,
  );
  const byUuid = new Map(r.rows.map((c) => [c.uuid, c]));
  for (const uuid of del) {
    const storage = byUuid.get(uuid)!.storage as { type: string; host_path?: string; storage_path?: string };
    const dir = storage.type === 'shared_fs' ? path.join(storage.host_path ?? '', storage.storage_path ?? '', uuid) : storage.type === 'master' ? path.join(ctx.checkpointDir, uuid) : null;
    if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
    await ctx.db.query(`UPDATE checkpoints SET state = 'DELETED' WHERE uuid = $1`, [uuid]);
  }
  if (del.length) ctx.log.info({ experiment: experimentId, deleted: del.length }, 'checkpoint garbage collection');
  return del;
}
