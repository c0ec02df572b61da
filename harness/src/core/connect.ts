// Connects the ranks of one trial. One rank needs nothing; several ranks use the ring all-reduce in
// harness/src/distributed, rendezvousing through the master.
import { localDistributed, type Distributed } from './distributed';
import type { MasterClient } from './masterClient';
import { masterExchange } from './rendezvous';

export interface ConnectOptions {
  client: MasterClient;
  allocationId: string;
  rank: number;
  size: number;
  localRank: number;
  timeoutMs?: number;
  host?: string;
  /** A rank died or a link dropped: the allocation must fail fast (DESIGN.md). */
  onFailure?: (error: Error) => void;
}

export async function connectDistributed(opts: ConnectOptions): Promise<Distributed> {
  if (opts.size <= 1) return localDistributed();
  // Loaded lazily: a single rank never opens a socket.
  const { connectRingDistributed } = await import('./ringAdapter');
  return connectRingDistributed({
    rank: opts.rank,
    size: opts.size,
    localRank: opts.localRank,
    timeoutMs: opts.timeoutMs,
    host: opts.host,
    onFailure: opts.onFailure,
    exchange: masterExchange(opts.client, opts.allocationId, opts.rank, { timeoutMs: opts.timeoutMs }),
  });
}
