import { afterEach, describe, expect, it } from 'vitest';
import { localRing } from '../distributed/testRing';
import type { Communicator } from '../distributed/ring';
import { localDistributed, requireSameBackend } from './distributed';
import { communicatorToDistributed } from './ringAdapter';

let open: Communicator[] = [];
afterEach(async () => {
  await Promise.all(open.map((c) => c.close()));
  open = [];
});

describe('the distributed seam over the ring', () => {
  it('sums and averages in place on every rank', async () => {
    open = await localRing(3);
    const ranks = open.map((c) => communicatorToDistributed(c, c.rank));
    const sums = await Promise.all(ranks.map((d) => d.allreduce(Float32Array.of(d.rank, 1, -2 * d.rank), 'sum')));
    for (const s of sums) expect([...s]).toEqual([3, 3, -6]);
    const means = await Promise.all(ranks.map((d) => d.allreduce(Float32Array.of(d.rank * 3))));
    for (const m of means) expect([...m]).toEqual([3]);
    const local = Float32Array.of(5);
    expect(await localDistributed().allreduce(local, 'sum')).toBe(local);
  });
});

describe('requireSameBackend', () => {
  it('lets ranks on one backend through', async () => {
    open = await localRing(3);
    const ranks = open.map((c) => communicatorToDistributed(c, c.rank));
    await Promise.all(ranks.map((d) => requireSameBackend(d, 'wasm')));
    await requireSameBackend(localDistributed(), 'cpu');
  });

  it('fails on every rank, naming each rank and its backend, when they differ', async () => {
    open = await localRing(3);
    const ranks = open.map((c) => communicatorToDistributed(c, c.rank));
    const backends = ['wasm', 'tensorflow', 'wasm'];
    const results = await Promise.allSettled(ranks.map((d, r) => requireSameBackend(d, backends[r]!)));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const message = ((result as PromiseRejectedResult).reason as Error).message;
      expect(message).toContain('rank 0: wasm, rank 1: tensorflow, rank 2: wasm');
      expect(message).toContain('HONE_TF_BACKEND');
    }
  });
});
