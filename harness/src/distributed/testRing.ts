// Test helpers: an in-process rendezvous and deterministic inputs. Not used in production.
import { afterEach } from 'vitest';
import type { RingCommunicator } from './ring';
import { ringKey } from './ringAuth';
import { connectRing, type ConnectRingOptions, type Exchange } from './setup';

/** The ring key test rings use. */
export const TEST_RING_KEY = ringKey('test-task-token');

/** An `exchange` for `size` ranks in one process: resolves once every rank has posted. */
export function localRendezvous(size: number): (rank: number) => Exchange {
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
export async function localRing(size: number, options: Partial<ConnectRingOptions> = {}): Promise<RingCommunicator[]> {
  const exchange = localRendezvous(size);
  return Promise.all(Array.from({ length: size }, (_, rank) => connectRing({ timeoutMs: 10_000, key: TEST_RING_KEY, ...options, rank, size, exchange: exchange(rank) })));
}

/** For a test file: a `localRing` whose ranks are closed after each test. */
export function localRingsClosedAfterEach(): (size: number, options?: Partial<ConnectRingOptions>) => Promise<RingCommunicator[]> {
  const open: RingCommunicator[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  return async (size, options) => {
    const comms = await localRing(size, options);
    open.push(...comms);
    return comms;
  };
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
