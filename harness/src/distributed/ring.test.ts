import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommunicatorError } from './errors';
import { Reducer } from './reduce';
import type { RingCommunicator } from './ring';
import { inputFor, localRing } from './testRing';

let open: RingCommunicator[] = [];
afterEach(async () => {
  await Promise.all(open.map((c) => c.close()));
  open = [];
});

async function ring(size: number, segmentBytes?: number): Promise<RingCommunicator[]> {
  const comms = await localRing(size, segmentBytes ? { segmentBytes } : {});
  open.push(...comms);
  return comms;
}

function localSum(size: number, length: number): Float64Array {
  const sum = new Float64Array(length);
  for (let r = 0; r < size; r++) {
    const x = inputFor(r, length);
    for (let i = 0; i < length; i++) sum[i] += x[i];
  }
  return sum;
}

function expectClose(actual: Float32Array, expected: Float64Array, scale = 1): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i] / scale));
  expect(worst).toBeLessThan(1e-5);
}

function expectBitIdentical(results: Float32Array[]): void {
  const first = Buffer.from(results[0].buffer, results[0].byteOffset, results[0].byteLength);
  for (const r of results.slice(1)) expect(Buffer.from(r.buffer, r.byteOffset, r.byteLength).equals(first)).toBe(true);
}

describe('ring all-reduce', () => {
  for (const size of [2, 3, 4]) {
    it(`sums and averages across ${size} ranks, bit-identical on every rank, for any length`, async () => {
      const comms = await ring(size);
      for (const length of [0, 1, size - 1, size, size + 1, 1000, 12_345]) {
        const sums = await Promise.all(comms.map((c) => c.allreduce(inputFor(c.rank, length), 'sum')));
        expectClose(sums[0], localSum(size, length));
        expectBitIdentical(sums);
        const means = await Promise.all(comms.map((c) => c.allreduce(inputFor(c.rank, length))));
        expectClose(means[0], localSum(size, length), size);
        expectBitIdentical(means);
      }
    });
  }

  it('splits big arrays into many segments in flight and still agrees bit for bit', async () => {
    const comms = await ring(3, 64);
    const length = 10_001;
    const out = await Promise.all(comms.map((c) => c.allreduce(inputFor(c.rank, length), 'sum')));
    expectClose(out[0], localSum(3, length));
    expectBitIdentical(out);
  });

  it('reads large frames straight into place (several MB, many segments in flight)', async () => {
    const comms = await ring(3, 256 * 1024);
    const length = 1_000_003;
    for (let round = 0; round < 2; round++) {
      const out = await Promise.all(comms.map((c) => c.allreduce(inputFor(c.rank, length), 'sum')));
      expectClose(out[0], localSum(3, length));
      expectBitIdentical(out);
      const root = round + 1;
      const b = await Promise.all(comms.map((c) => c.broadcastArray(c.rank === root ? inputFor(7, length) : new Float32Array(length), root)));
      expectBitIdentical([inputFor(7, length), ...b]);
    }
  });

  it('gives the same bits when a payload arrives before its rank has started the all-reduce', async () => {
    const comms = await ring(2);
    const length = 300_001;
    // Payloads are normally summed while they are read; one that arrives early is buffered and summed afterwards.
    const summedLater = vi.spyOn(Reducer.prototype, 'add');
    try {
      const onTime = await Promise.all(comms.map((c) => c.allreduce(inputFor(c.rank, length))));
      expect(summedLater).not.toHaveBeenCalled();
      const late = await Promise.all(
        comms.map(async (c) => {
          if (c.rank === 1) await sleep(200);
          return c.allreduce(inputFor(c.rank, length));
        }),
      );
      expect(summedLater).toHaveBeenCalled();
      expectBitIdentical([...onTime, ...late]);
      expectClose(late[0], localSum(2, length), 2);
    } finally {
      summedLater.mockRestore();
    }
  });

  it('reduces in place and gives the same bits on every run', async () => {
    const comms = await ring(4);
    const inputs = comms.map((c) => inputFor(c.rank, 777));
    const first = await Promise.all(comms.map((c, r) => c.allreduce(inputs[r], 'sum')));
    expect(first[2]).toBe(inputs[2]);
    const again = await Promise.all(comms.map((c) => c.allreduce(inputFor(c.rank, 777), 'sum')));
    expectBitIdentical([first[0], again[0], again[3]]);
  });

  it('runs concurrent collectives issued in the same order', async () => {
    const comms = await ring(3, 256);
    const results = await Promise.all(
      comms.map((c) => Promise.all([c.allreduce(inputFor(c.rank, 5000), 'sum'), c.allgather({ r: c.rank }), c.allreduce(inputFor(c.rank, 10), 'sum')])),
    );
    expectClose(results[1][0], localSum(3, 5000));
    expect(results[2][1]).toEqual([{ r: 0 }, { r: 1 }, { r: 2 }]);
    expectClose(results[0][2], localSum(3, 10));
  });
});

describe('bucketed all-reduce', () => {
  it('averages many arrays through buckets that straddle arrays, in place', async () => {
    const comms = await ring(3);
    const lengths = [3, 0, 17, 1, 250, 9, 64];
    const results = await Promise.all(
      comms.map((c) => {
        const arrays = lengths.map((n, k) => inputFor(c.rank * 10 + k, n));
        return c.allreduceBuckets(arrays, { bucketBytes: 40 }).then((out) => {
          expect(out[4]).toBe(arrays[4]);
          return out;
        });
      }),
    );
    lengths.forEach((n, k) => {
      const expected = new Float64Array(n);
      for (let r = 0; r < 3; r++) {
        const x = inputFor(r * 10 + k, n);
        for (let i = 0; i < n; i++) expected[i] += x[i] / 3;
      }
      expectClose(results[0][k], expected);
      expectBitIdentical(results.map((r) => r[k]));
    });
  });

  it('handles the default 25 MB bucket and a sum', async () => {
    const comms = await ring(2);
    const results = await Promise.all(comms.map((c) => c.allreduceBuckets([inputFor(c.rank, 100), inputFor(c.rank, 5)], { op: 'sum' })));
    expectClose(results[1][0], localSum(2, 100));
  });
});

describe('broadcast, allgather, barrier', () => {
  it('broadcasts root data to every rank, from any root, across segments', async () => {
    const comms = await ring(4, 128);
    for (const root of [0, 2, 3]) {
      for (const length of [0, 1, 5, 1000]) {
        const out = await Promise.all(comms.map((c) => c.broadcastArray(c.rank === root ? inputFor(99, length) : new Float32Array(length), root)));
        for (const o of out) expect(Buffer.from(o.buffer).equals(Buffer.from(inputFor(99, length).buffer))).toBe(true);
      }
    }
  });

  it('gathers JSON values indexed by rank and passes a barrier', async () => {
    const comms = await ring(3);
    const out = await Promise.all(comms.map((c) => c.allgather({ rank: c.rank, loss: c.rank / 2, tags: ['a'] })));
    for (const o of out) expect(o).toEqual([0, 1, 2].map((rank) => ({ rank, loss: rank / 2, tags: ['a'] })));
    const undef = await Promise.all(comms.map((c) => c.allgather(undefined)));
    expect(undef[0]).toEqual([null, null, null]);
    let entered = 0;
    await Promise.all(
      comms.map(async (c) => {
        await new Promise((r) => setTimeout(r, c.rank * 30));
        entered++;
        await c.barrier();
        expect(entered).toBe(3);
      }),
    );
  });

  it('works with one rank and no sockets', async () => {
    const [c] = await localRing(1);
    const x = inputFor(0, 10);
    const copy = x.slice();
    expect(await c.allreduce(x)).toEqual(copy);
    expect(await c.allreduceBuckets([x])).toEqual([copy]);
    expect(await c.broadcastArray(x)).toBe(x);
    expect(await c.allgather({ a: 1 })).toEqual([{ a: 1 }]);
    await c.barrier();
    await c.close();
    await expect(c.barrier()).rejects.toThrow(/closed/);
  });
});

describe('failures', () => {
  it('rejects when ranks pass different lengths', async () => {
    const comms = await ring(2);
    const results = await Promise.allSettled(comms.map((c) => c.allreduce(new Float32Array(c.rank === 0 ? 10 : 12))));
    expect(results.some((r) => r.status === 'rejected' && (r.reason as CommunicatorError).code === 'PROTOCOL')).toBe(true);
    for (const r of results) expect(r.status).toBe('rejected');
  });

  it('fails the others promptly when one rank leaves while they wait, and fires onFailure', async () => {
    const comms = await ring(3);
    const failures: CommunicatorError[] = [];
    comms.forEach((c) => c.onFailure((e) => failures.push(e)));
    const started = Date.now();
    const pending = [comms[0], comms[2]].map((c) => c.allreduce(new Float32Array(100)).then(() => null, (e: unknown) => e));
    await new Promise((r) => setTimeout(r, 50));
    await comms[1].close();
    const errors = await Promise.all(pending);
    expect(Date.now() - started).toBeLessThan(2000);
    for (const e of errors) {
      expect(e).toBeInstanceOf(CommunicatorError);
      expect(String(e)).toMatch(/^CommunicatorError: rank 1 /);
    }
    expect(failures.length).toBe(2);
    await expect(comms[0].barrier()).rejects.toThrow(/rank 1/);
  });

  it('closes cleanly when every rank closes after its work, without firing onFailure', async () => {
    const comms = await localRing(3);
    const failures: unknown[] = [];
    comms.forEach((c) => c.onFailure((e) => failures.push(e)));
    await Promise.all(comms.map((c) => c.allreduce(inputFor(c.rank, 100))));
    await comms[2].close();
    await new Promise((r) => setTimeout(r, 50));
    await comms[0].close();
    await comms[1].close();
    expect(failures).toEqual([]);
  });
});
