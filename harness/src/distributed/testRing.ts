// Test helpers: an in-process rendezvous and deterministic inputs. Not used in production.
import { connectRing, type Communicator, type ConnectRingOptions } from './ring';

/** An `exchange` for `size` ranks in one process: resolves once every rank has posted. */
export function localRendezvous(size: number): (rank: number) => (address: string) => Promise<string[]> {
  const addresses: string[] = new Array<string>(size);
  let posted = 0;
  let resolveAll!: (a: string[]) => void;
  const all = new Promise<string[]>((resolve) => {
    resolveAll = resolve;
  });
  return (rank) => async (address) => {
    addresses[rank] = address;
    if (++posted === size) resolveAll(addresses);
    return all;
  };
}

/** `size` connected ranks in this process. */
export async function localRing(size: number, options: Partial<ConnectRingOptions> = {}): Promise<Communicator[]> {
  const exchange = localRendezvous(size);
  return Promise.all(Array.from({ length: size }, (_, rank) => connectRing({ timeoutMs: 10_000, ...options, rank, size, exchange: exchange(rank) })));
}

/** Deterministic pseudo-random floats in [-1, 1) for rank `rank`. */
export function inputFor(rank: number, length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let x = (seed * 7919 + rank * 104729 + 1) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 31 - 1;
  }
  return out;
}
