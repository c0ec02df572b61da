import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, beforeAll } from 'vitest';
import { parseExperimentConfig, type ExperimentConfig } from '@hone/protocol';
import { createCoreContext } from '../core/context';
import { MemoryMaster } from '../core/memoryMaster';
import { runTrial } from './controller';
import { createTrial } from '../../../examples/synthetic/model';
import { decodeManifest } from './checkpointFormat';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function config(extra: Record<string, unknown> = {}): ExperimentConfig {
  return parseExperimentConfig({
    name: 't',
    entrypoint: 'model.ts:createTrial',
    hyperparameters: { global_batch_size: 32, learning_rate: 0.01, hidden_units: 8 },
    searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 20 } },
    ...extra,
  });
}

async function runOnce(master: MemoryMaster, opts: Parameters<typeof runTrial>[2] = {}) {
  const info = await master.getAllocationInfo(master.allocationId);
  const core = createCoreContext({ client: master, info, log: () => {}, searcherWaitS: 0 });
  try {
    return await runTrial(core, createTrial, opts);
  } finally {
    await core.close();
  }
}

function weightsOf(master: MemoryMaster): Float32Array {
  const ck = master.checkpoints.at(-1)!;
  const bin = master.files.get(`${ck.uuid}/weights.bin`)!;
  const manifest = decodeManifest({ 'manifest.json': master.files.get(`${ck.uuid}/manifest.json`)! });
  const end = manifest.model.weights.at(-1)!;
  return new Float32Array(bin.slice(0, end.byteOffset + end.byteLength).buffer);
}

describe('runTrial', () => {
  it('trains to each operation, validates, checkpoints and reports completion', async () => {
    const cfg = config();
    const master = new MemoryMaster({ config: cfg, hparams: { global_batch_size: 32, learning_rate: 0.01, hidden_units: 8 }, ops: [10, 20] });
    const outcome = await runOnce(master);
    expect(outcome).toBe('closed');
    expect(master.completed.map((c) => c.length)).toEqual([10, 20]);
    expect(master.validation.map((v) => v.stepsCompleted)).toEqual([10, 20]);
    expect(master.completed[1]!.metric).toBe(master.validation[1]!.metrics.validation_loss);
    expect(master.checkpoints.map((c) => c.stepsCompleted)).toEqual([10, 20]);
    expect(master.training.at(-1)!.stepsCompleted).toBe(20);
    expect(master.training.every((p) => Number.isFinite(p.metrics.loss))).toBe(true);
    // learning happened
    expect(master.validation[1]!.metrics.validation_loss).toBeLessThan(master.training[0]!.metrics.loss!);
  });

  it('reports progress toward the operation at each mid-operation validation and checkpoint, in the searcher unit', async () => {
    const master = new MemoryMaster({
      config: config({ min_validation_period: { batches: 5 }, min_checkpoint_period: { batches: 8 } }),
      hparams: { global_batch_size: 32, learning_rate: 0.01, hidden_units: 8 },
      ops: [20],
    });
    await runOnce(master);
    expect(master.progress).toEqual([5, 8, 10, 15, 16]);
    const records = new MemoryMaster({
      config: config({ searcher: { name: 'single', metric: 'validation_loss', max_length: { records: 640 } }, min_validation_period: { records: 320 } }),
      hparams: { global_batch_size: 32, learning_rate: 0.01, hidden_units: 8 },
      ops: [640],
    });
    await runOnce(records);
    expect(records.progress).toEqual([320]);
  });

  it('resumes from a checkpoint to exactly the weights of an uninterrupted run', async () => {
    const hp = { global_batch_size: 32, learning_rate: 0.01, hidden_units: 8 };
    // 2048 records / 32 = 64 batches per epoch: 100 batches crosses an epoch boundary.
    const straight = new MemoryMaster({ config: config(), hparams: hp, ops: [100] });
    await runOnce(straight);

    const resumed = new MemoryMaster({ config: config(), hparams: hp, ops: [40], pauseAfterOps: true });
    await runOnce(resumed);
    expect(resumed.checkpoints.at(-1)!.stepsCompleted).toBe(40);
    resumed.ops.push(100);
    resumed.newAllocation();
    expect(await runOnce(resumed)).toBe('closed');
    expect(resumed.checkpoints.at(-1)!.stepsCompleted).toBe(100);
    expect(Array.from(weightsOf(resumed))).toEqual(Array.from(weightsOf(straight)));
    expect(resumed.completed.at(-1)!.metric).toBe(straight.completed.at(-1)!.metric);
  });

  it('on preemption checkpoints the current step and stops', async () => {
    const master = new MemoryMaster({ config: config(), hparams: { global_batch_size: 32 }, ops: [1000] });
    const outcome = await runOnce(master, {
      onBatchEnd: (steps) => {
        if (steps === 7) master.preempt = true;
      },
    });
    expect(outcome).toBe('preempted');
    const last = master.checkpoints.at(-1)!;
    expect(last.stepsCompleted).toBeGreaterThanOrEqual(7);
    expect(last.stepsCompleted).toBeLessThan(1000);
    expect(master.completed).toEqual([]);
  });

  it('counts lengths in epochs (records_per_epoch) and records as global batches', async () => {
    const epochs = config({ searcher: { name: 'single', metric: 'validation_loss', max_length: { epochs: 2 } }, records_per_epoch: 320 });
    const m1 = new MemoryMaster({ config: epochs, hparams: { global_batch_size: 32 }, ops: [1, 2] });
    await runOnce(m1);
    expect(m1.checkpoints.map((c) => c.stepsCompleted)).toEqual([10, 20]);
    expect(m1.completed.map((c) => c.length)).toEqual([1, 2]);
    const records = config({ searcher: { name: 'single', metric: 'validation_loss', max_length: { records: 100 } } });
    const m2 = new MemoryMaster({ config: records, hparams: { global_batch_size: 32 }, ops: [100] });
    await runOnce(m2);
    expect(m2.checkpoints.map((c) => c.stepsCompleted)).toEqual([4]);
  });

  it('does not leak tensors between batches or after the trial', async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const master = new MemoryMaster({ config: config({ min_validation_period: { batches: 5 }, min_checkpoint_period: { batches: 7 } }), hparams: { global_batch_size: 16 }, ops: [30] });
    await runOnce(master, {
      onBatchEnd: (steps) => {
        if (steps % 10 === 0) counts.push(tf.memory().numTensors);
      },
    });
    expect(counts.length).toBe(3);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
