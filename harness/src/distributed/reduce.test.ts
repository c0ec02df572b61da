import { describe, expect, it } from 'vitest';
import { Reducer, addIntoJs } from './reduce';
import { inputFor } from './testRing';

/** The float32 results the reduction must give: one rounding after the exact sum, another after the division. */
function reference(dst: Float32Array, src: Float32Array, divisor?: number): Float32Array {
  return dst.map((a, i) => (divisor === undefined ? Math.fround(a + src[i]) : Math.fround(Math.fround(a + src[i]) / divisor)));
}

const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('Reducer', () => {
  const simd = new Reducer();
  const js = new Reducer({ forceJs: true });

  it('runs the WebAssembly SIMD kernels on Node 20', () => {
    expect(simd.simd).toBe(true);
    expect(js.simd).toBe(false);
  });

  for (const divisor of [undefined, 2, 3]) {
    it(`gives the same bits with SIMD, in JavaScript and in the reference (divisor ${divisor ?? 'none'})`, () => {
      // 300_000 floats span several 256 KB pieces; the small lengths exercise the scalar tail of the kernel.
      for (const length of [0, 1, 3, 4, 5, 1023, 1024, 65_537, 300_000]) {
        const a = inputFor(0, length);
        const b = inputFor(1, length);
        const expected = reference(a, b, divisor);
        const viaSimd = a.slice();
        simd.add(viaSimd, b, divisor);
        const viaJs = a.slice();
        js.add(viaJs, b, divisor);
        const viaLoop = a.slice();
        addIntoJs(viaLoop, b, divisor);
        expect(bytes(viaSimd).equals(bytes(expected))).toBe(true);
        expect(bytes(viaJs).equals(bytes(expected))).toBe(true);
        expect(bytes(viaLoop).equals(bytes(expected))).toBe(true);
      }
    });
  }

  it('sums a payload fed to a sink in reads and writes that split floats anywhere', () => {
    for (const reducer of [simd, js]) {
      const length = 100_003;
      const a = inputFor(2, length);
      const b = inputFor(3, length);
      const payload = bytes(b);
      const dst = a.slice();
      const sink = reducer.sink(dst, 4);
      let at = 0;
      let turn = 0;
      while (at < payload.length) {
        const left = payload.length - at;
        if (turn++ % 2 === 0) {
          // a socket read of an odd number of bytes into the sink's own buffer
          const target = sink.readBuffer(left);
          const n = Math.min(target.length, left, 1 + ((turn * 7919) % 70_001));
          payload.copy(target, 0, at, at + n);
          sink.onRead(n);
          at += n;
        } else {
          // bytes that arrived in another buffer
          const n = Math.min(left, 1 + ((turn * 104_729) % 300_001));
          sink.write(payload.subarray(at, at + n));
          at += n;
        }
      }
      expect(bytes(dst).equals(bytes(reference(a, b, 4)))).toBe(true);
    }
  });
});
