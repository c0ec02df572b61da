// The seam between the training loop and whatever connects the ranks of one trial. The ring all-reduce
// (harness/src/distributed) is adapted to this interface; with one rank, `localDistributed()` makes every
// collective the identity, so the loop needs no special cases.
import { shardRange as shard } from '../distributed/dataParallel';

export interface Distributed {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  /** Elementwise mean of each array across ranks. Every rank passes arrays of the same count and lengths, in the same order. */
  allreduceMean(arrays: Float32Array[]): Promise<Float32Array[]>;
  /** Elementwise sum or mean (default) of `data` across ranks, in place; every rank gets the same bits. */
  allreduce(data: Float32Array, op?: 'sum' | 'mean'): Promise<Float32Array>;
  /** Root's arrays, on every rank (used to make replicas start identical). */
  broadcastArrays(arrays: Float32Array[], root?: number): Promise<Float32Array[]>;
  /** Root's JSON value, on every rank (searcher operations, the preemption decision). */
  broadcast<T>(value: T, root?: number): Promise<T>;
  /** Every rank's JSON value, indexed by rank. */
  allgather<T>(value: T): Promise<T[]>;
  barrier(): Promise<void>;
  close(): Promise<void>;
}

export function localDistributed(): Distributed {
  return {
    rank: 0,
    size: 1,
    localRank: 0,
    allreduceMean: async (arrays) => arrays,
    allreduce: async (data) => data,
    broadcastArrays: async (arrays) => arrays,
    broadcast: async (value) => value,
    allgather: async (value) => [value],
    barrier: async () => {},
    close: async () => {},
  };
}

/** Which records of a global batch this rank takes: [start, end). Remainders go to the lowest ranks. */
export function shardRange(globalBatchSize: number, rank: number, size: number): [number, number] {
  const { start, end } = shard(globalBatchSize, rank, size);
  return [start, end];
}

/**
 * Fails on every rank unless all ranks run the same TensorFlow.js backend: gradients from different kernels
 * (tfjs-node's libtensorflow, wasm, cpu) differ in their last bits, so replicas would drift apart.
 */
export async function requireSameBackend(distributed: Distributed, backend: string): Promise<void> {
  if (distributed.size === 1) return;
  const all = await distributed.allgather(backend);
  if (all.every((b) => b === all[0])) return;
  const list = all.map((b, rank) => `rank ${rank}: ${b}`).join(', ');
  throw new Error(
    `the ranks of one trial must use the same TensorFlow.js backend, but ${list}; install the same backend packages on every agent, or pin one with environment.variables.HONE_TF_BACKEND in the experiment config`,
  );
}
