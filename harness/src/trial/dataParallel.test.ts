// N ranks in one process, joined by the real ring all-reduce through the master's rendezvous (MemoryMaster), each
// running the real Trial API loop (runTrial) on the synthetic example. After K steps every replica's weights and
// optimizer state are bit-identical, and they match one rank training on the same global batches within float
// tolerance; only rank 0 reports and checkpoints.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { createCoreContext, type CoreContext } from '../core/context';
import { MemoryMaster } from '../core/memoryMaster';
import { connectDistributed } from '../distributed/connect';
import { TEST_RING_KEY } from '../distributed/testRing';
import { runTrial } from './controller';
import { createTrial } from '../../../examples/synthetic/model';
import type { TrialDef, TrialFactory } from './types';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const K = 20;
// 31 records per global batch: split 16 + 15 over 2 ranks and 11 + 10 + 10 over 3, so the shard-size weighting of
// the gradient mean matters.
const hp = { global_batch_size: 31, learning_rate: 0.01, hidden_units: 8, optimizer: 'adam' };
const config = parseExperimentConfig({
  entrypoint: 'model.ts:createTrial',
  hyperparameters: hp,
  searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: K } },
  min_validation_period: { batches: 5 },
  min_checkpoint_period: { batches: 10 },
});

interface Snapshot {
  /** This rank's weights as its model was built, before the loop synchronised them. */
  initial: Float32Array[];
  weights: Float32Array[];
  optimizer: Float32Array[];
}

/**
 * Runs the synthetic example on `core` and records, after batch K (before the harness disposes the model), this
 * rank's weights and optimizer state. Ranks other than 0 build their model from a different seed, so the test also
 * covers the loop making every replica start from rank 0's weights.
 */
async function run(core: CoreContext, out: Snapshot[], rank: number) {
  let def: TrialDef | null = null;
  let initial: Float32Array[] = [];
  const factory: TrialFactory = async (ctx) => {
    def = await createTrial(rank === 0 ? ctx : { ...ctx, seed: ctx.seed + 1000 * rank });
    initial = (def.model as tf.LayersModel).getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
    return def;
  };
  return runTrial(core, factory, {
    onBatchEnd: async (steps) => {
      if (steps !== K) return;
      const model = def!.model as tf.LayersModel;
      const opt = await def!.optimizer.getWeights();
      out[rank] = {
        initial,
        weights: model.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array)),
        optimizer: opt.map((w) => Float32Array.from(w.tensor.dataSync() as Float32Array)),
      };
    },
  });
}

const bytes = (arrays: Float32Array[]) => arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex'));

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  expect(a.map((x) => x.length)).toEqual(b.map((x) => x.length));
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

async function single(): Promise<{ master: MemoryMaster; snap: Snapshot }> {
  const master = new MemoryMaster({ config, hparams: hp, ops: [K] });
  const out: Snapshot[] = [];
  const core = createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), log: () => {}, searcherWaitS: 0 });
  try {
    expect(await run(core, out, 0)).toBe('closed');
  } finally {
    await core.close();
  }
  return { master, snap: out[0]! };
}

describe('data-parallel Trial API', () => {
  let reference: { master: MemoryMaster; snap: Snapshot };
  beforeAll(async () => {
    reference = await single();
  }, 60_000);

  for (const n of [2, 3]) {
    it(`${n} ranks: bit-identical replicas that match one rank on the same global batches`, { timeout: 90_000 }, async () => {
      const master = new MemoryMaster({ config, hparams: hp, ops: [K], worldSize: n });
      const snaps: Snapshot[] = [];
      const logs: string[][] = Array.from({ length: n }, () => []);
      const ranks = Array.from({ length: n }, async (_, rank) => {
        const info = { ...(await master.getAllocationInfo(master.allocationId, rank)), rank };
        const distributed = await connectDistributed({ client: master, allocationId: info.allocationId, rank, size: n, localRank: rank, timeoutMs: 20_000, key: TEST_RING_KEY });
        const core = createCoreContext({ client: master, info, distributed, log: (l) => logs[rank]!.push(l), searcherWaitS: 0 });
        try {
          return await run(core, snaps, rank);
        } finally {
          await core.close();
          await distributed.close();
        }
      });
      expect(await Promise.all(ranks)).toEqual(Array(n).fill('closed'));

      // Replicas: every rank holds exactly rank 0's bits, weights and Adam's moments alike.
      expect(snaps).toHaveLength(n);
      for (let r = 1; r < n; r++) {
        expect(bytes(snaps[r]!.weights)).toEqual(bytes(snaps[0]!.weights));
        expect(bytes(snaps[r]!.optimizer)).toEqual(bytes(snaps[0]!.optimizer));
      }

      // Against one rank on the same global batches: the same sums in a different order (per-shard means, then the
      // ring's mean), so only rounding differs: observed < 1e-7 after 20 Adam steps on the cpu backend. 1e-4 leaves room
      // for rounding to grow over the steps while staying far below what one batch's update changes (lr 0.01).
      expect(maxAbsDiff(snaps[0]!.weights, reference.snap.weights)).toBeLessThan(1e-4);
      expect(maxAbsDiff(snaps[0]!.optimizer, reference.snap.optimizer)).toBeLessThan(1e-4);
      // And training really moved the weights (the comparison above is not between two untouched models).
      expect(maxAbsDiff(snaps[0]!.weights, snaps[0]!.initial)).toBeGreaterThan(1e-2);
      // The other ranks built different weights (another seed), so matching is the loop's doing.
      for (let r = 1; r < n; r++) expect(maxAbsDiff(snaps[r]!.initial, snaps[0]!.initial)).toBeGreaterThan(1e-2);

      // Only rank 0 talks to the master for results: one completion, one validation per period, checkpoints at 10
      // and 20, and the same steps of training metrics as one rank.
      expect(master.completed.map((c) => c.length)).toEqual([K]);
      expect(master.checkpoints.map((c) => c.stepsCompleted)).toEqual([10, 20]);
      expect(master.validation.map((p) => p.stepsCompleted)).toEqual([5, 10, 15, 20]);
      expect(master.training.map((p) => p.stepsCompleted)).toEqual(reference.master.training.map((p) => p.stepsCompleted));
      master.validation.forEach((p, i) => {
        const ref = reference.master.validation[i]!;
        expect(p.stepsCompleted).toBe(ref.stepsCompleted);
        for (const [k, v] of Object.entries(ref.metrics)) expect(Math.abs(p.metrics[k]! - v)).toBeLessThan(1e-4);
      });
      // Training loss: each rank's shard mean weighted by its shard size is the mean over the global batch.
      master.training.forEach((p, i) => {
        const ref = reference.master.training[i]!.metrics.loss!;
        expect(Math.abs(p.metrics.loss! - ref) / ref).toBeLessThan(1e-4);
      });
      expect(Math.abs(master.completed[0]!.metric - reference.master.completed[0]!.metric)).toBeLessThan(1e-4);
      expect(logs.slice(1).flat().some((l) => l.startsWith('searcher: completed'))).toBe(false);
    });
  }
});
