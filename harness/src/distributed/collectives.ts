// The collective operations among the ranks of one trial: what a training loop (the core context's `distributed`,
// the Trial API loop, the data-parallel helpers) needs from its peers. The ring communicator over TCP (ring.ts)
// implements it for several ranks; `localCollectives()` (localCollectives.ts) for one, where every collective is
// the identity, so a loop needs no special case for a single rank.
//
// Contract for callers: every rank issues the same collectives, with the same lengths, in the same order (as with
// NCCL or Gloo). Collectives may be in flight concurrently. An array passed to a collective must not be touched
// until its promise settles. Reductions give bit-identical results on every rank.

export type ReduceOp = 'mean' | 'sum';

export interface AllreduceBucketsOptions {
  /** Default 25 MB, as PyTorch DDP. */
  bucketBytes?: number;
  /** Default 'mean'. */
  op?: ReduceOp;
}

export interface Collectives {
  readonly rank: number;
  readonly size: number;
  /** This rank's index among the trial's ranks on its machine (which of the machine's devices it uses). */
  readonly localRank: number;
  /** Elementwise sum or mean (default) across ranks, written into `data` in place; resolves to `data`. */
  allreduce(data: Float32Array, op?: ReduceOp): Promise<Float32Array>;
  /**
   * All-reduces many arrays (gradients) in place, resolving to the same arrays. They are packed, in order, into
   * buckets of `bucketBytes` (an array may straddle buckets); a bucket's reduction overlaps packing the next one.
   */
  allreduceBuckets(arrays: Float32Array[], options?: AllreduceBucketsOptions): Promise<Float32Array[]>;
  /** Copies root's `data` into every other rank's `data` (same length everywhere); resolves to `data`. */
  broadcastArray(data: Float32Array, root?: number): Promise<Float32Array>;
  /** Root's value (JSON-serialisable, small: searcher operations, the preemption decision), on every rank. */
  broadcastJson<T>(value: T, root?: number): Promise<T>;
  /** Every rank's value (JSON-serialisable, small: metrics, flags), indexed by rank. */
  allgather<T>(value: T): Promise<T[]>;
  /** Resolves once every rank has entered the barrier. */
  barrier(): Promise<void>;
  /** Lets go of the peers. Pending collectives reject; peers that later need this rank fail. */
  close(): Promise<void>;
}
