// Rendezvous through the master: every rank posts its address, then waits for the full list (indexed by rank).
import type { MasterClient } from '../core/masterClient';
import type { Exchange } from './setup';

/** Swaps this rank's address for everyone's, as the ring set-up's `exchange` option expects. */
export function masterExchange(client: MasterClient, allocationId: string, rank: number, opts: { timeoutMs?: number; waitS?: number } = {}): Exchange {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const waitS = opts.waitS ?? 30;
  return async (address: string) => {
    await client.postRendezvous(allocationId, rank, address);
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const started = Date.now();
      const addresses = await client.getRendezvous(allocationId, waitS);
      if (addresses) return addresses;
      if (Date.now() > deadline) throw new Error(`rendezvous: not every rank posted its address within ${Math.round(timeoutMs / 1000)} s`);
      // A master that answers "incomplete" at once (instead of long-polling) must not be hammered.
      if (Date.now() - started < 500) await new Promise((r) => setTimeout(r, 500));
    }
  };
}
