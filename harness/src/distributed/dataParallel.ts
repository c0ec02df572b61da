// Data-parallel helpers for the Trial API: average gradients, start replicas from rank 0's weights, split a global
// batch, average metrics. Every rank calls each helper at the same point of its loop.
import * as tf from '@tensorflow/tfjs';
import type { Collectives } from './collectives';
import { CommunicatorError } from './errors';

export interface AverageGradientsOptions {
  /**
   * Multiplies this rank's gradients before averaging (see `shardRange`'s `weight`), so that unequal shards give
   * exactly the gradient of the mean loss over the global batch. Default 1.
   */
  scale?: number;
}

/**
 * The mean of every rank's gradients, as new tensors of the same names and shapes (identical bits on every rank), in
 * the caller's key order (an optimizer creates its state in the order it first sees gradients). Gradients are
 * flattened in sorted name order, so ranks agree whatever order their records were built in, into one array: one
 * all-reduce (pipelined in segments inside), and the results are views of it. The input tensors are left alone (the
 * caller disposes them).
 */
export async function averageGradients(
  comm: Collectives,
  grads: Record<string, tf.Tensor>,
  options: AverageGradientsOptions = {},
): Promise<Record<string, tf.Tensor>> {
  const scale = options.scale ?? 1;
  if (comm.size === 1 && scale === 1) return Object.fromEntries(Object.keys(grads).map((n) => [n, tf.clone(grads[n])]));
  const at = new Map<string, number>();
  let total = 0;
  for (const name of Object.keys(grads).sort()) {
    const t = grads[name];
    if (t.dtype !== 'float32') throw new CommunicatorError(`gradient ${name} is ${t.dtype}; only float32 gradients can be averaged`, 'INVALID_ARGUMENT');
    at.set(name, total);
    total += t.size;
  }
  const flat = new Float32Array(total);
  for (const [name, offset] of at) flat.set(grads[name].dataSync() as Float32Array, offset);
  if (scale !== 1) for (let i = 0; i < flat.length; i++) flat[i] *= scale;
  await comm.allreduce(flat, 'mean');
  return Object.fromEntries(
    Object.entries(grads).map(([name, t]) => [name, tf.tensor(flat.subarray(at.get(name)!, at.get(name)! + t.size), t.shape, 'float32')]),
  );
}

/** A tf.Variable, or a tfjs-layers weight (`model.weights`), whose value can be replaced. */
export type Weight = tf.Variable | { read(): tf.Tensor; write(value: tf.Tensor): unknown; readonly name: string };

function readWeight(w: Weight): tf.Tensor {
  return 'assign' in w ? w : w.read();
}

function writeWeight(w: Weight, value: tf.Tensor): void {
  if ('assign' in w) w.assign(value);
  else w.write(value);
}

/**
 * Copies `root`'s (default rank 0's) weights into every rank's, so replicas start identical. `weights` must list the
 * same variables in the same order on every rank (e.g. `model.weights`, or `optimizer.getWeights()` values); a rank
 * whose shapes differ gets a clear error instead of garbage.
 */
export async function broadcastWeights(comm: Collectives, weights: readonly Weight[], root = 0): Promise<void> {
  if (comm.size === 1) return;
  const tensors = weights.map(readWeight);
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new CommunicatorError(`weight of dtype ${t.dtype}: only float32 weights can be broadcast`, 'INVALID_ARGUMENT');
  }
  const signature = tensors.map((t) => t.shape.join('x')).join(',');
  const signatures = await comm.allgather(signature);
  const odd = signatures.findIndex((s) => s !== signatures[root]);
  if (odd >= 0) {
    throw new CommunicatorError(`rank ${odd}'s weight shapes [${signatures[odd]}] differ from root rank ${root}'s [${signatures[root]}]`, 'PROTOCOL');
  }
  const sizes = tensors.map((t) => t.size);
  const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  if (comm.rank === root) {
    let at = 0;
    for (const t of tensors) {
      flat.set((await t.data()) as Float32Array, at);
      at += t.size;
    }
  }
  await comm.broadcastArray(flat, root);
  if (comm.rank === root) return;
  let at = 0;
  weights.forEach((w, i) => {
    const value = tf.tensor(flat.subarray(at, at + sizes[i]), tensors[i].shape, 'float32');
    writeWeight(w, value);
    value.dispose();
    at += sizes[i];
  });
}

export interface Shard {
  /** First record of the global batch this rank takes. */
  start: number;
  /** One past the last. */
  end: number;
  /** end − start. */
  count: number;
  /**
   * count × size / globalBatchSize: pass as `averageGradients`' `scale` when each rank's loss is the mean over its
   * own shard, so that the averaged gradient equals the gradient of the mean loss over the whole global batch even
   * when shards differ by one record. 1 when the batch divides evenly.
   */
  weight: number;
}

/**
 * Which records of a global batch of `globalBatchSize` this rank takes: contiguous ranges in rank order whose sizes
 * differ by at most one; the first `globalBatchSize % size` ranks take one record more. With a batch smaller than
 * the world, some ranks take none (count 0, weight 0).
 */
export function shardRange(globalBatchSize: number, rank: number, size: number): Shard {
  if (!Number.isInteger(globalBatchSize) || globalBatchSize < 0) throw new RangeError(`global batch size ${globalBatchSize} is not a count`);
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size) throw new RangeError(`bad rank ${rank} of ${size}`);
  const base = Math.floor(globalBatchSize / size);
  const extra = globalBatchSize % size;
  const start = rank * base + Math.min(rank, extra);
  const count = base + (rank < extra ? 1 : 0);
  return { start, end: start + count, count, weight: globalBatchSize === 0 ? 0 : (count * size) / globalBatchSize };
}

/**
 * The mean of each metric over ranks (identical on every rank), summed in rank order. With `weight` (e.g. the number
 * of records each rank's metrics cover) the mean is weighted; ranks with weight 0 count for nothing. A metric that
 * only some ranks report is averaged over those; one no rank can weigh is NaN.
 */
export async function averageMetrics(comm: Pick<Collectives, 'allgather'>, metrics: Record<string, number>, weight = 1): Promise<Record<string, number>> {
  const all = await comm.allgather({ metrics, weight });
  const sums = new Map<string, { total: number; weight: number }>();
  for (const { metrics: m, weight: w } of all) {
    for (const [name, value] of Object.entries(m)) {
      const acc = sums.get(name) ?? { total: 0, weight: 0 };
      if (w > 0) {
        // JSON turns NaN and ±Infinity into null: a rank that reported one keeps the mean non-finite.
        acc.total += (value === null ? NaN : value) * w;
        acc.weight += w;
      }
      sums.set(name, acc);
    }
  }
  return Object.fromEntries([...sums].map(([name, { total, weight: w }]) => [name, w > 0 ? total / w : NaN]));
}
