// Two ranks in one process, joined by the ring all-reduce through the master's rendezvous: replicas stay identical,
// only rank 0 reports and checkpoints, and the result matches one rank training on the whole global batch.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { connectDistributed } from '../core/connect';
import { createCoreContext } from '../core/context';
import { MemoryMaster } from '../core/memoryMaster';
import { runTrial } from './controller';
import { createTrial } from '../../../examples/synthetic/model';
import type { TrialDef, TrialFactory } from './types';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const hp = { global_batch_size: 31, learning_rate: 0.01, hidden_units: 8 };
const config = parseExperimentConfig({
  entrypoint: 'model.ts:createTrial',
  hyperparameters: hp,
  searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 12 } },
});

/** Runs the example and records this rank's weights after the last batch (before the harness disposes the model). */
function run(core: Parameters<typeof runTrial>[0], out: Float32Array[][], rank: number) {
  let model: tf.LayersModel | null = null;
  const factory: TrialFactory = async (ctx) => {
    const def: TrialDef = await createTrial(ctx);
    model = def.model as tf.LayersModel;
    return def;
  };
  return runTrial(core, factory, {
    onBatchEnd: (steps) => {
      if (steps === 12) out[rank] = model!.getWeights().map((w) => w.dataSync() as Float32Array);
    },
  });
}

describe('data-parallel Trial API', () => {
  it('keeps two ranks identical and matches one rank on the same global batch (split unevenly, 16 + 15)', { timeout: 60_000 }, async () => {
    const master = new MemoryMaster({ config, hparams: hp, ops: [12], worldSize: 2 });
    const weights: Float32Array[][] = [];
    const ranks = [0, 1].map(async (rank) => {
      const info = { ...(await master.getAllocationInfo(master.allocationId)), rank };
      const distributed = await connectDistributed({ client: master, allocationId: info.allocationId, rank, size: 2, localRank: rank, timeoutMs: 20_000 });
      const core = createCoreContext({ client: master, info, distributed, log: () => {}, searcherWaitS: 0 });
      try {
        return await run(core, weights, rank);
      } finally {
        await core.close();
        await distributed.close();
      }
    });
    expect(await Promise.all(ranks)).toEqual(['closed', 'closed']);
    expect(master.completed.map((c) => c.length)).toEqual([12]);
    expect(master.checkpoints.length).toBe(1);
    expect(master.validation.length).toBe(1);
    expect(weights[1]!.map((a) => Array.from(a))).toEqual(weights[0]!.map((a) => Array.from(a)));

    const single = new MemoryMaster({ config, hparams: hp, ops: [12] });
    const one: Float32Array[][] = [];
    const core = createCoreContext({ client: single, info: await single.getAllocationInfo(single.allocationId), log: () => {}, searcherWaitS: 0 });
    await run(core, one, 0);
    await core.close();
    one[0]!.forEach((a, i) => a.forEach((v, j) => expect(weights[0]![i]![j]).toBeCloseTo(v, 4)));
    expect(master.completed[0]!.metric).toBeCloseTo(single.completed[0]!.metric, 4);
  });
});
