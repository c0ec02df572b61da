import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { averageGradients, averageMetrics, broadcastWeights, shardRange } from './dataParallel';
import { localRingsClosedAfterEach } from './testRing';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ring = localRingsClosedAfterEach();

describe('shardRange', () => {
  it('covers the global batch with contiguous shards that differ by at most one', () => {
    for (const [global, size] of [[31, 2], [32, 4], [10, 3], [2, 4], [0, 3], [1000, 7]]) {
      const shards = Array.from({ length: size }, (_, r) => shardRange(global, r, size));
      expect(shards[0].start).toBe(0);
      expect(shards[size - 1].end).toBe(global);
      for (let r = 1; r < size; r++) expect(shards[r].start).toBe(shards[r - 1].end);
      const counts = shards.map((s) => s.count);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      if (global > 0) expect(shards.reduce((a, s) => a + s.weight, 0)).toBeCloseTo(size, 10);
    }
    expect(shardRange(31, 0, 2)).toEqual({ start: 0, end: 16, count: 16, weight: 32 / 31 });
    expect(shardRange(31, 1, 2)).toEqual({ start: 16, end: 31, count: 15, weight: 30 / 31 });
    expect(() => shardRange(10, 3, 3)).toThrow(RangeError);
  });
});

describe('averageGradients', () => {
  it('averages by name whatever the insertion order, keeping shapes, identical on every rank', async () => {
    const comms = await ring(3);
    const results = await Promise.all(
      comms.map((c) => {
        const w = tf.tensor2d([[1, 2], [3, 4 + c.rank]]).mul(c.rank + 1);
        const b = tf.tensor1d([c.rank, -c.rank, 0.5]);
        const grads = c.rank === 1 ? { w, b } : { b, w };
        return averageGradients(c, grads);
      }),
    );
    for (const r of results) {
      expect(r.w.shape).toEqual([2, 2]);
      expect(r.b.shape).toEqual([3]);
      expect(Buffer.from((await r.w.data()).buffer).equals(Buffer.from((await results[0].w.data()).buffer))).toBe(true);
    }
    const w = (await results[2].w.array()) as number[][];
    expect(w[0][0]).toBeCloseTo(2, 6); // (1 + 2 + 3) / 3
    expect(w[1][1]).toBeCloseTo((4 * 1 + 5 * 2 + 6 * 3) / 3, 5);
    expect(Array.from(await results[1].b.data())).toEqual([1, -1, 0.5]);
  });

  it('with shard weights gives the gradient of the mean loss over the whole uneven global batch', async () => {
    const comms = await ring(2);
    // Per-record gradient = the record's value; each rank's gradient is the mean over its shard.
    const records = Array.from({ length: 31 }, (_, i) => i * 0.25);
    const out = await Promise.all(
      comms.map((c) => {
        const { start, end, weight } = shardRange(records.length, c.rank, 2);
        const mine = records.slice(start, end);
        return averageGradients(c, { g: tf.scalar(mine.reduce((a, b) => a + b, 0) / mine.length) }, { scale: weight });
      }),
    );
    expect((await out[0].g.data())[0]).toBeCloseTo(records.reduce((a, b) => a + b, 0) / records.length, 5);
  });

  it('returns copies with one rank', async () => {
    const [c] = await ring(1);
    const g = tf.tensor1d([1, 2]);
    const r = await averageGradients(c, { g });
    g.dispose();
    expect(Array.from(await r.g.data())).toEqual([1, 2]);
  });
});

describe('broadcastWeights', () => {
  it("gives every rank rank 0's weights, for variables and layer weights", async () => {
    const comms = await ring(3);
    const models = comms.map((c) => {
      const m = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], kernelInitializer: tf.initializers.randomNormal({ seed: c.rank + 1 }) })] });
      return m;
    });
    const vars = comms.map((c) => tf.variable(tf.fill([5], c.rank + 10)));
    await Promise.all(comms.map((c) => broadcastWeights(c, [...models[c.rank].weights, vars[c.rank]])));
    const reference = models[0].getWeights().map((w) => Array.from(w.dataSync()));
    for (const m of models) expect(m.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(reference);
    for (const v of vars) expect(Array.from(v.dataSync())).toEqual([10, 10, 10, 10, 10]);
  });

  it('refuses ranks whose weight shapes differ', async () => {
    const comms = await ring(2);
    const results = await Promise.allSettled(comms.map((c) => broadcastWeights(c, [tf.variable(tf.zeros([c.rank + 2]))])));
    for (const r of results) expect(r.status === 'rejected' && String(r.reason)).toMatch(/rank 1's weight shapes \[3\] differ from root rank 0's \[2\]/);
  });
});

describe('averageMetrics', () => {
  it('averages over ranks, optionally weighted, identical everywhere', async () => {
    const comms = await ring(3);
    const plain = await Promise.all(comms.map((c) => averageMetrics(c, { loss: c.rank, ...(c.rank === 2 ? { acc: 0.5 } : {}) })));
    for (const p of plain) expect(p).toEqual({ loss: 1, acc: 0.5 });
    const weighted = await Promise.all(comms.map((c) => averageMetrics(c, { loss: c.rank }, [1, 1, 2][c.rank])));
    expect(weighted[1].loss).toBeCloseTo((0 + 1 + 4) / 4, 10);
  });
});
