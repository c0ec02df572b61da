// Deletes an ended experiment: the files of every checkpoint it has (in whichever storage each was written to;
// a file already gone counts as deleted), then, only once all files are gone, its rows (metrics, logs,
// checkpoints, allocations, trials, audit entries and the stored model directory, in one transaction). After the
// last failed attempt the experiment is DELETE_FAILED with the reason; asking again retries.
import type { Database } from '../../db';
import { listExperimentCheckpointStorage } from '../../db/checkpoints';
import { deleteExperimentRows, getExperimentSummary, setDeletionState } from '../../db/experiments';
import type { EventBus } from '../../events';
import { removeCheckpointFiles } from '../../checkpoints/storage';
import type { JobHandler } from '../types';

export const DELETE_EXPERIMENT = 'deleteExperiment';
/** Attempts before DELETE_FAILED (with the default backoff, about 3 s of retrying). */
export const DELETE_ATTEMPTS = 3;

export function deleteExperimentHandler(deps: { db: Database; bus: EventBus; checkpointDir: string }): JobHandler<{ experimentId: number }> {
  const publish = async (id: number) => {
    const e = await getExperimentSummary(deps.db, id);
    if (e) deps.bus.publish({ type: 'experiment', experiment: e });
    deps.bus.publish({ type: 'cluster' });
  };
  return {
    kind: DELETE_EXPERIMENT,
    maxAttempts: DELETE_ATTEMPTS,
    async run({ experimentId }) {
      const exp = await getExperimentSummary(deps.db, experimentId);
      // Gone already (a run cut short after its transaction), or no longer being deleted: nothing to do.
      if (!exp || exp.state !== 'DELETING') return;
      const failures: string[] = [];
      for (const c of await listExperimentCheckpointStorage(deps.db, experimentId)) {
        try {
          await removeCheckpointFiles(deps.checkpointDir, c.storage, c.uuid);
        } catch (e) {
          failures.push(`checkpoint ${c.uuid}: ${(e as Error).message}`);
        }
      }
      if (failures.length) {
        throw new Error(`could not delete the files of ${failures.length} checkpoint(s): ${failures.slice(0, 3).join('; ')}${failures.length > 3 ? '; ...' : ''}`);
      }
      await deps.db.transaction((tx) => deleteExperimentRows(tx, experimentId));
      deps.bus.publish({ type: 'cluster' });
    },
    async onGiveUp({ experimentId }, error) {
      const exp = await getExperimentSummary(deps.db, experimentId);
      if (!exp || exp.state !== 'DELETING') return;
      await setDeletionState(deps.db, experimentId, 'DELETE_FAILED', error.message);
      await publish(experimentId);
    },
  };
}
