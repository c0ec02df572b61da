// Checkpoint GC of an ended experiment, as a job (written with the experiment's terminal state).
import type { Logger } from 'pino';
import type { Database } from '../../db';
import { collectCheckpoints } from '../../checkpoints/gc';
import type { JobHandler } from '../types';

export const CHECKPOINT_GC = 'checkpointGc';

export function checkpointGcHandler(deps: { db: Database; checkpointDir: string; log: Logger }): JobHandler<{ experimentId: number }> {
  return {
    kind: CHECKPOINT_GC,
    maxAttempts: 10,
    async run({ experimentId }) {
      await collectCheckpoints(deps, experimentId);
    },
  };
}
