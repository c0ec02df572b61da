import { describe, expect, it } from 'vitest';
import { localCollectives } from './localCollectives';
import { localRingsClosedAfterEach } from './testRing';

const ring = localRingsClosedAfterEach();

describe('collectives, over the ring and on one rank', () => {
  it('sums and averages in place on every rank', async () => {
    const ranks = await ring(3);
    const sums = await Promise.all(ranks.map((d) => d.allreduce(Float32Array.of(d.rank, 1, -2 * d.rank), 'sum')));
    for (const s of sums) expect([...s]).toEqual([3, 3, -6]);
    const means = await Promise.all(ranks.map((d) => d.allreduce(Float32Array.of(d.rank * 3))));
    for (const m of means) expect([...m]).toEqual([3]);
    const local = Float32Array.of(5);
    expect(await localCollectives().allreduce(local, 'sum')).toBe(local);
  });
});
