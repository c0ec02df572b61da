// Length-prefixed binary frames between ranks. Every frame is a 16-byte little-endian header followed by the payload:
//
//   u32 payload length | u32 type | u32 op | u32 step | payload
//
// `op` numbers collectives (every rank issues collectives in the same order, so the numbers agree) and `step`
// numbers the frames inside one collective, so several collectives may be in flight on one connection at once.
// Payloads handed to the consumer start at a 4-byte aligned offset of their ArrayBuffer, so a Float32Array view
// over them needs no copy.

export const HEADER_BYTES = 16;
/** Larger frames are refused: they can only come from a corrupt stream or a stray client. */
export const MAX_FRAME_BYTES = 0x7fff_ffff;

/** Largest frame while a connection is being set up (hello, auth): a stray client cannot make a rank allocate more. */
export const MAX_HANDSHAKE_FRAME_BYTES = 4096;

export const FrameType = {
  /** Connection set-up: JSON `{ rank, size, nonce[, proof] }`; the accepting side answers with its own (ringAuth.ts). */
  Hello: 1,
  /** Collective data. */
  Data: 2,
  /** The sender's communicator failed: JSON `{ rank, message }` names the rank at fault. */
  Abort: 3,
  /** The sender closed its communicator on purpose. */
  Goodbye: 4,
  /** Connection set-up, connecting side's last word: JSON `{ proof }` (ringAuth.ts). */
  Auth: 5,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export type FrameHandler = (type: number, op: number, step: number, payload: Buffer) => void;

/**
 * Takes a payload piece by piece as it is read, instead of as one buffer (the ring all-reduce sums each piece while
 * it is still in the CPU cache). The frame handler then gets `SUNK` as the payload.
 */
export interface PayloadSink {
  /** Where the next socket read (at most `max` bytes, at least 1) should land. */
  readBuffer(max: number): Buffer;
  /** `n` bytes were read into the buffer `readBuffer` returned last. */
  onRead(n: number): void;
  /** Payload bytes that arrived elsewhere, in order (valid only during the call). */
  write(bytes: Buffer): void;
}

/** The payload a frame handler gets for a frame whose bytes all went to a `PayloadSink`. */
export const SUNK: Buffer = Buffer.alloc(0);

/**
 * Where a payload should land: a buffer of exactly `length` bytes, a sink, or undefined for a fresh buffer.
 * A provider that hands out a buffer or sink for a frame forgets it: each is used for one frame.
 */
export type BodyProvider = (type: number, op: number, step: number, length: number) => Buffer | PayloadSink | undefined;

const EMPTY = Buffer.alloc(0);
/** Small, so that little of a large payload lands here and must be copied before reads go straight into it. */
const SCRATCH_BYTES = 64 * 1024;
/** Below this, reading into scratch and copying beats an extra read call. */
const DIRECT_READ_MIN = 16 * 1024;

export function encodeHeader(type: number, op: number, step: number, payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32LE(payloadBytes, 0);
  header.writeUInt32LE(type, 4);
  header.writeUInt32LE(op >>> 0, 8);
  header.writeUInt32LE(step >>> 0, 12);
  return header;
}

/** A Float32Array over a payload's bytes, without copying. The payload must be 4-byte aligned. */
export function float32View(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength === 0) return new Float32Array(0);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
}

/** The bytes of a Float32Array, without copying. */
export function bytesOf(data: Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Splits a byte stream into frames. A payload that lies whole and aligned inside one received chunk is handed over
 * as a view of that chunk; any other payload is copied once into its own (aligned) buffer as bytes arrive.
 */
export class FrameParser {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | null = null;
  private sink: PayloadSink | null = null;
  private sinkLength = 0;
  private bodyFill = 0;
  private type = 0;
  private op = 0;
  private step = 0;

  // Pull mode (`readBuffer` / `onRead`, for net.connect's `onread`): while a large payload is incomplete the kernel
  // reads straight into it; otherwise into a reusable scratch buffer, whose payloads are then always copied out.
  private scratch: Buffer | null = null;
  private direct = false;
  private reusable = false;
  /** Frames longer than this are malformed; lowered while a connection is not yet authenticated. */
  maxFrameBytes = MAX_FRAME_BYTES;

  constructor(
    private readonly onFrame: FrameHandler,
    private readonly bodyFor?: BodyProvider,
  ) {}

  /** The buffer the next socket read should fill. */
  readBuffer(): Buffer {
    const body = this.body;
    if (body !== null && body.length - this.bodyFill >= DIRECT_READ_MIN) {
      this.direct = true;
      return body.subarray(this.bodyFill);
    }
    if (this.sink !== null && this.sinkLength - this.bodyFill >= DIRECT_READ_MIN) {
      this.direct = true;
      return this.sink.readBuffer(this.sinkLength - this.bodyFill);
    }
    this.direct = false;
    this.scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES);
    return this.scratch;
  }

  /** `n` bytes were read into the buffer `readBuffer` returned. Throws on a malformed frame. */
  onRead(n: number): void {
    if (this.direct) {
      const sink = this.sink;
      if (sink !== null) {
        this.bodyFill += n;
        sink.onRead(n);
        if (this.bodyFill === this.sinkLength) this.endSink();
        return;
      }
      const body = this.body!;
      this.bodyFill += n;
      if (this.bodyFill === body.length) {
        this.body = null;
        this.onFrame(this.type, this.op, this.step, body);
      }
      return;
    }
    this.reusable = true;
    try {
      this.push(this.scratch!.subarray(0, n));
    } finally {
      this.reusable = false;
    }
  }

  private endSink(): void {
    this.sink = null;
    this.onFrame(this.type, this.op, this.step, SUNK);
  }

  /** Throws on a malformed frame; the caller must then drop the connection. */
  push(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      if (this.sink !== null) {
        const take = Math.min(this.sinkLength - this.bodyFill, n - pos);
        this.sink.write(chunk.subarray(pos, pos + take));
        this.bodyFill += take;
        pos += take;
        if (this.bodyFill === this.sinkLength) this.endSink();
        continue;
      }
      if (this.body === null) {
        let len: number;
        if (this.headerFill === 0 && n - pos >= HEADER_BYTES) {
          len = chunk.readUInt32LE(pos);
          this.type = chunk.readUInt32LE(pos + 4);
          this.op = chunk.readUInt32LE(pos + 8);
          this.step = chunk.readUInt32LE(pos + 12);
          pos += HEADER_BYTES;
        } else {
          const take = Math.min(HEADER_BYTES - this.headerFill, n - pos);
          chunk.copy(this.header, this.headerFill, pos, pos + take);
          this.headerFill += take;
          pos += take;
          if (this.headerFill < HEADER_BYTES) return;
          this.headerFill = 0;
          len = this.header.readUInt32LE(0);
          this.type = this.header.readUInt32LE(4);
          this.op = this.header.readUInt32LE(8);
          this.step = this.header.readUInt32LE(12);
        }
        if (len > this.maxFrameBytes || this.type < FrameType.Hello || this.type > FrameType.Auth) {
          throw new Error(`malformed frame (type ${this.type}, ${len} bytes)`);
        }
        if (len === 0) {
          this.onFrame(this.type, this.op, this.step, EMPTY);
          continue;
        }
        const provided = this.bodyFor?.(this.type, this.op, this.step, len);
        if (provided !== undefined && !(provided instanceof Uint8Array)) {
          this.sink = provided;
          this.sinkLength = len;
          this.bodyFill = 0;
          continue;
        } else if (provided !== undefined && provided.length === len) {
          this.body = provided;
          this.bodyFill = 0;
        } else if (!this.reusable && n - pos >= len && ((chunk.byteOffset + pos) & 3) === 0) {
          const payload = chunk.subarray(pos, pos + len);
          pos += len;
          this.onFrame(this.type, this.op, this.step, payload);
          continue;
        } else {
          // allocUnsafeSlow: never from the shared pool, so the buffer starts at offset 0 of its own ArrayBuffer.
          this.body = Buffer.allocUnsafeSlow(len);
          this.bodyFill = 0;
        }
      }
      const body = this.body;
      const take = Math.min(body.length - this.bodyFill, n - pos);
      chunk.copy(body, this.bodyFill, pos, pos + take);
      this.bodyFill += take;
      pos += take;
      if (this.bodyFill === body.length) {
        this.body = null;
        this.onFrame(this.type, this.op, this.step, body);
      }
    }
  }
}
