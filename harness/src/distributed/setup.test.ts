import { describe, expect, it } from 'vitest';
import { connectRing } from './setup';
import { localRendezvous, TEST_RING_KEY } from './testRing';

describe('ring set-up', () => {
  it('times out set-up with a clear message when the rendezvous never completes', async () => {
    const started = Date.now();
    await expect(connectRing({ rank: 0, size: 2, key: TEST_RING_KEY, timeoutMs: 300, exchange: () => new Promise(() => {}) })).rejects.toThrow(
      /rank 0: ring set-up timed out after 300 ms while waiting for the rendezvous/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('times out set-up when a neighbour never connects', async () => {
    const exchange = localRendezvous(2);
    void exchange(1)('127.0.0.1:1'); // rank 1 "posts" an address nobody listens on and never connects
    const failures: unknown[] = [];
    await expect(connectRing({ rank: 0, size: 2, key: TEST_RING_KEY, timeoutMs: 500, exchange: exchange(0), onFailure: (e) => failures.push(e) })).rejects.toThrow(
      /timed out after 500 ms while connecting to rank 1/,
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(failures).toEqual([]);
  });
});
