// Elementwise float32 reduction for the ring all-reduce, with WebAssembly SIMD (f32x4) kernels.
//
// V8 runs `dst[i] += src[i]` over Float32Arrays at about 2 ns per element (each element goes through float64); the
// f32x4 kernel in reduce.wat adds four per instruction. WebAssembly can only read its own memory, so a reducer owns
// a small fixed `WebAssembly.Memory` (never grown, so views into it stay valid) with two areas:
//
//   [ input | work ]
//
// A reduce-scatter payload is not collected whole: the communicator hands the socket reader a sink
// (`Reducer.sink(dst)`) whose reads land in `input`, a few hundred KB at a time, and each piece is summed into
// `dst` at once, while it is still in the CPU cache: the matching piece of `dst` is copied into `work`, the kernel
// adds `input` to it, and `work` is copied back. A payload that arrived as a buffer goes through `input` the same way.
//
// Results are the same bits whichever path runs: the kernels use float32 arithmetic (IEEE, correctly rounded), and
// the JavaScript fallback does too: the float64 sum of two float32 values is exact, so rounding it once gives the
// float32 sum, and float64 division of float32 values rounded to float32 equals float32 division.
import type { PayloadSink } from './framing';

/** reduce.wat assembled (see the command at its top). */
const REDUCE_WASM =
  'AGFzbQEAAAABDgJgA39/fwBgBH9/f30AAg8BA2VudgZtZW1vcnkCAAEDAwIAAQcQAgNhZGQAAAZhZGREaXYAAQqIAgJ6AQJ/IAAgAkECdGohAyAAIAJBfHFBAnRqIQQCQANAIAAgBE8NASAAIAD9AAQAIAH9AAQA/eQB/QsEACAAQRBqIQAgAUEQaiEBDAALCwJAA0AgACADTw0BIAAgACoCACABKgIAkjgCACAAQQRqIQAgAUEEaiEBDAALCwuKAQICfwF7IAP9EyEGIAAgAkECdGohBCAAIAJBfHFBAnRqIQUCQANAIAAgBU8NASAAIAD9AAQAIAH9AAQA/eQBIAb95wH9CwQAIABBEGohACABQRBqIQEMAAsLAkADQCAAIARPDQEgACAAKgIAIAEqAgCSIAOVOAIAIABBBGohACABQQRqIQEMAAsLCw==';

const PAGE = 64 * 1024;
/** Bytes summed per piece: small enough to stay in L2 with the matching piece of `dst`. */
const PIECE_BYTES = 256 * 1024;

interface Kernels {
  add(dst: number, src: number, n: number): void;
  addDiv(dst: number, src: number, n: number, d: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernels, or null where this runtime has no WebAssembly SIMD. */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(REDUCE_WASM, 'base64');
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** dst = dst + src, or (dst + src) / divisor, in float32 arithmetic (the kernels' exact results). */
export function addIntoJs(dst: Float32Array, src: Float32Array, divisor?: number): void {
  const n = dst.length;
  if (divisor === undefined) {
    for (let i = 0; i < n; i++) dst[i] += src[i];
  } else {
    for (let i = 0; i < n; i++) dst[i] = Math.fround(dst[i] + src[i]) / divisor;
  }
}

export class Reducer {
  /** Whether the WebAssembly SIMD kernels run (else a JavaScript loop, same results). */
  readonly simd: boolean;
  private readonly kernels: Kernels | undefined;
  /** Where payload pieces land (bytes and float view over the same memory). */
  private readonly input: Buffer;
  private readonly input32: Float32Array;
  /** `dst` pieces are summed here (SIMD only). */
  private readonly work: Float32Array | undefined;

  constructor(options: { forceJs?: boolean } = {}) {
    const module = options.forceJs ? null : kernelModule();
    if (module) {
      const memory = new WebAssembly.Memory({ initial: (2 * PIECE_BYTES) / PAGE, maximum: (2 * PIECE_BYTES) / PAGE });
      this.kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernels;
      this.input = Buffer.from(memory.buffer, 0, PIECE_BYTES);
      this.work = new Float32Array(memory.buffer, PIECE_BYTES, PIECE_BYTES / 4);
    } else {
      this.input = Buffer.allocUnsafeSlow(PIECE_BYTES);
    }
    this.input32 = new Float32Array(this.input.buffer, this.input.byteOffset, PIECE_BYTES / 4);
    this.simd = module !== null;
  }

  /** A sink that sums a payload of `dst.byteLength` bytes into `dst` as it is read (divided by `divisor` if set). */
  sink(dst: Float32Array, divisor?: number): ReduceSink {
    return new ReduceSink(this, dst, divisor);
  }

  /** dst = dst + src (or (dst + src) / divisor), elementwise in float32; same length. */
  add(dst: Float32Array, src: Float32Array, divisor?: number): void {
    const sink = new ReduceSink(this, dst, divisor);
    sink.write(Buffer.from(src.buffer, src.byteOffset, src.byteLength));
  }

  /** @internal The input area after its first `carry` bytes, at most `max` bytes long. */
  inputBuffer(carry: number, max: number): Buffer {
    return this.input.subarray(carry, Math.min(PIECE_BYTES, carry + max));
  }

  /** @internal Copies `bytes` into the input area at `at`; returns how many fit. */
  fillInput(at: number, bytes: Buffer): number {
    const take = Math.min(bytes.length, PIECE_BYTES - at);
    bytes.copy(this.input, at, 0, take);
    return take;
  }

  /**
   * @internal Sums the first `m` floats of the input area into `dst`; then moves the `rest` bytes after them (a
   * partial float) to the start of the input area.
   */
  sumInput(dst: Float32Array, m: number, rest: number, divisor: number | undefined): void {
    const kernels = this.kernels;
    if (m > 0) {
      if (kernels) {
        const work = this.work!;
        work.set(dst);
        if (divisor === undefined) kernels.add(work.byteOffset, 0, m);
        else kernels.addDiv(work.byteOffset, 0, m, divisor);
        dst.set(m === work.length ? work : work.subarray(0, m));
      } else {
        addIntoJs(dst, this.input32.subarray(0, m), divisor);
      }
    }
    if (rest > 0) this.input.copyWithin(0, m * 4, m * 4 + rest);
  }
}

/** Sums a payload into `dst` piece by piece; see `Reducer`. */
export class ReduceSink implements PayloadSink {
  /** Bytes of a partial float waiting at the start of the input area. */
  private carry = 0;
  /** Floats of `dst` summed so far. */
  private done = 0;

  constructor(
    private readonly reducer: Reducer,
    private readonly dst: Float32Array,
    private readonly divisor: number | undefined,
  ) {}

  /** The payload's expected size. */
  get byteLength(): number {
    return this.dst.byteLength;
  }

  readBuffer(max: number): Buffer {
    return this.reducer.inputBuffer(this.carry, max);
  }

  onRead(n: number): void {
    this.sum(this.carry + n);
  }

  write(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      const take = this.reducer.fillInput(this.carry, at === 0 ? bytes : bytes.subarray(at));
      at += take;
      this.sum(this.carry + take);
    }
  }

  /** The input area holds `bytes` payload bytes: sum its whole floats, keep the partial one. */
  private sum(bytes: number): void {
    const m = Math.min(bytes >>> 2, this.dst.length - this.done);
    this.reducer.sumInput(this.dst.subarray(this.done, this.done + m), m, bytes - m * 4, this.divisor);
    this.done += m;
    this.carry = bytes - m * 4;
  }
}
