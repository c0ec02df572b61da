// Adapts the ring all-reduce (harness/src/distributed/ring.ts) to the `Distributed` seam of the training loop.
import { connectRing, type Communicator } from '../distributed/ring';
import type { Distributed } from './distributed';

export interface RingAdapterOptions {
  rank: number;
  size: number;
  localRank: number;
  exchange: (address: string) => Promise<string[]>;
  timeoutMs?: number;
  /** The address other ranks reach this one at (HONE_RING_HOST); default 127.0.0.1 (all ranks on one machine). */
  host?: string;
  onFailure?: (error: Error) => void;
}

export function communicatorToDistributed(comm: Communicator, localRank: number): Distributed {
  return {
    rank: comm.rank,
    size: comm.size,
    localRank,
    allreduceMean: (arrays) => comm.allreduceBuckets(arrays, { op: 'mean' }),
    allreduce: (data, op = 'mean') => comm.allreduce(data, op),
    async broadcastArrays(arrays, root = 0) {
      for (const a of arrays) await comm.broadcast(a, root);
      return arrays;
    },
    async broadcast<T>(value: T, root = 0): Promise<T> {
      // Small JSON values: an all-gather is one ring pass and keeps this adapter free of framing details.
      const all = await comm.allgather(comm.rank === root ? { v: value } : null);
      return (all[root] as { v: T }).v;
    },
    allgather: (value) => comm.allgather(value),
    barrier: () => comm.barrier(),
    close: () => comm.close(),
  };
}

export async function connectRingDistributed(opts: RingAdapterOptions): Promise<Distributed> {
  const comm = await connectRing({
    rank: opts.rank,
    size: opts.size,
    exchange: opts.exchange,
    timeoutMs: opts.timeoutMs,
    ...(opts.host ? { host: opts.host, listenHost: '0.0.0.0' } : {}),
    onFailure: opts.onFailure,
  });
  return communicatorToDistributed(comm, opts.localRank);
}
