// Connects the ranks of one trial. One rank needs nothing; several ranks join the ring (setup.ts), rendezvousing
// through the master.
import type { MasterClient } from '../core/masterClient';
import type { Collectives } from './collectives';
import { localCollectives } from './localCollectives';
import { masterExchange } from './rendezvous';
import { ringKey } from './ringAuth';

export interface ConnectOptions {
  client: MasterClient;
  allocationId: string;
  rank: number;
  size: number;
  localRank: number;
  timeoutMs?: number;
  /** The address other ranks reach this one at (HONE_RING_HOST); default 127.0.0.1 (all ranks on one machine). */
  host?: string;
  /** A rank died or a link dropped: the allocation must fail fast (DESIGN.md). */
  onFailure?: (error: Error) => void;
  /**
   * The allocation's ring key (ringAuth.ts): ring connections prove it both ways. Default: `ringKey` of the
   * task token in HONE_TASK_TOKEN, which every rank of the allocation has.
   */
  key?: Uint8Array;
  /** Where refused ring connections are reported (default console.error). */
  log?: (line: string) => void;
}

export async function connectDistributed(opts: ConnectOptions): Promise<Collectives> {
  if (opts.size <= 1) return localCollectives();
  // Loaded lazily: a single rank never opens a socket.
  const { connectRing } = await import('./setup');
  const token = process.env.HONE_TASK_TOKEN;
  const key = opts.key ?? (token ? ringKey(token) : undefined);
  if (!key) throw new Error('several ranks need the allocation ring key: pass `key`, or run with HONE_TASK_TOKEN set (the agent sets it)');
  return connectRing({
    rank: opts.rank,
    size: opts.size,
    localRank: opts.localRank,
    timeoutMs: opts.timeoutMs,
    // A host other machines reach this one at: listen on every interface.
    ...(opts.host ? { host: opts.host, listenHost: '0.0.0.0' } : {}),
    onFailure: opts.onFailure,
    key,
    ...(opts.log ? { log: opts.log } : {}),
    exchange: masterExchange(opts.client, opts.allocationId, opts.rank, { timeoutMs: opts.timeoutMs }),
  });
}
