// The ring communicator: the collectives (collectives.ts) of the ranks of one trial, over TCP (data-parallel training).
//
// Topology: rank r holds two connections (connection.ts), one to its next neighbour (r+1) % size, on which it sends
// collective data, and one from its previous neighbour (r-1+size) % size, on which it receives. Each rank connects
// to its previous neighbour, so the receiving socket is its own client socket and can read (`onread`) straight into
// payload buffers. Control frames (hello, abort, goodbye) go both ways on both sockets. Every collective
// (all-reduce, broadcast, all-gather, barrier) runs around that ring; setting the ring up is setup.ts's job.
//
// Collectives may be in flight concurrently: frames carry an operation number so they cannot mix.
//
// Determinism: in the ring all-reduce every chunk is summed in one fixed order around the ring by the rank that
// ends up owning it, which also applies the mean; the other ranks receive those exact bytes. So all ranks end with
// bit-identical results, and repeated runs with the same inputs give the same bits.
//
// Failure: when a neighbour's connection drops, this rank rejects everything pending and everything later with
// `CommunicatorError: rank K disconnected`, tells its other neighbour (an abort frame naming K) and closes its
// sockets; the failure travels around the ring in a few milliseconds, and `onFailure` listeners fire on every rank.
// A peer that hangs without closing its sockets is not detected (as with NCCL): the caller's own timeouts apply.
import type { AllreduceBucketsOptions, Collectives, ReduceOp } from './collectives';
import type { Connection } from './connection';
import { CommunicatorError } from './errors';
import { FrameType, SUNK, bytesOf, float32View } from './framing';
import { Reducer, type ReduceSink } from './reduce';

/**
 * Large frames, few of them: reduce-scatter payloads are summed while they are read (see reduce.ts), so a big frame
 * costs no extra memory and no pipeline stall, while each frame costs JavaScript work and wake-ups. On two shared
 * cores 8 MiB segments gave a 25 MB all-reduce in about 13 ms where 2 MiB segments took about 18 ms.
 */
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
/** Segments of one all-reduce in flight at once (32 MiB by default): enough to keep both directions of the ring busy. */
const SEGMENT_WINDOW = 4;
/** Wait for the socket to drain once this much is queued in user space. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const STEP_SPACE = 2 ** 21;
const CLOSE_GRACE_MS = 1000;

interface Waiter {
  resolve: (payload: Buffer) => void;
  reject: (error: CommunicatorError) => void;
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** Whether a received payload is already the destination (it was read straight into it). */
function sameMemory(payload: Buffer, dst: Float32Array): boolean {
  return payload.buffer === dst.buffer && payload.byteOffset === dst.byteOffset;
}

export class RingCommunicator implements Collectives {
  private toNext: Connection | undefined;
  private fromPrev: Connection | undefined;
  private seq = 0;
  private failure_: CommunicatorError | undefined;
  private closed = false;
  private readonly listeners = new Set<(error: CommunicatorError) => void>();
  private readonly inbox = new Map<number, Buffer>();
  private readonly waiters = new Map<number, Waiter>();
  /** Where expected data frames should be read to (straight from the kernel), by frame key. */
  private readonly destinations = new Map<number, Buffer | ReduceSink>();
  private readonly failed: Promise<never>;
  private rejectFailed!: (error: CommunicatorError) => void;
  private readonly segmentElems: number;
  private reducer_: Reducer | undefined;

  /** Use `connectRing` (setup.ts); the constructor only exists for it. */
  constructor(
    readonly rank: number,
    readonly size: number,
    readonly localRank: number,
    segmentBytes = DEFAULT_SEGMENT_BYTES,
  ) {
    this.segmentElems = Math.max(size, Math.floor(segmentBytes / 4));
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => {});
  }

  get next(): number {
    return (this.rank + 1) % this.size;
  }

  get prev(): number {
    return (this.rank - 1 + this.size) % this.size;
  }

  /** The failure that ended this communicator, if any. */
  get failure(): CommunicatorError | undefined {
    return this.failure_;
  }

  /** @internal Set-up hands over the two sockets once their peers have introduced themselves. */
  attach(role: 'next' | 'prev', conn: Connection): void {
    if (role === 'next') this.toNext = conn;
    else this.fromPrev = conn;
    conn.handler = (type, op, step, payload) => this.onFrame(conn, type, op, step, payload);
    conn.onBadStream = (error) =>
      this.fail(new CommunicatorError(`rank ${conn.peer} sent a malformed frame: ${error.message}`, 'PROTOCOL', { peer: conn.peer }));
    conn.socket.on('close', () => this.onSocketClosed(conn));
  }

  /** Subscribes to failure (fires once; at once if already failed). Returns an unsubscribe function. */
  onFailure(listener: (error: CommunicatorError) => void): () => void {
    if (this.failure_) {
      const error = this.failure_;
      queueMicrotask(() => listener(error));
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async allreduce(data: Float32Array, op: ReduceOp = 'mean'): Promise<Float32Array> {
    this.checkUsable();
    if (!(data instanceof Float32Array)) throw new CommunicatorError('allreduce expects a Float32Array', 'INVALID_ARGUMENT');
    if (op !== 'mean' && op !== 'sum') throw new CommunicatorError(`unknown reduce op ${String(op)}`, 'INVALID_ARGUMENT');
    if (this.size === 1) return data;
    const seg = this.segmentElems;
    const count = Math.max(1, Math.ceil(data.length / seg));
    const base = this.allocOps(count);
    const mean = op === 'mean';
    let nextSegment = 0;
    const worker = async (): Promise<void> => {
      while (nextSegment < count) {
        const i = nextSegment++;
        await this.ringAllreduce(data.subarray(i * seg, Math.min(data.length, (i + 1) * seg)), (base + i) >>> 0, mean);
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < Math.min(SEGMENT_WINDOW, count); w++) workers.push(worker());
    await Promise.all(workers);
    return data;
  }

  async allreduceBuckets(arrays: Float32Array[], options: AllreduceBucketsOptions = {}): Promise<Float32Array[]> {
    this.checkUsable();
    const op = options.op ?? 'mean';
    const bucketElems = Math.max(1, Math.floor((options.bucketBytes ?? 25 * 1024 * 1024) / 4));
    if (this.size === 1) return arrays;
    // Cut the concatenation of all arrays into buckets of bucketElems; a bucket lists the pieces it is made of.
    type Piece = { array: Float32Array; from: number; to: number };
    const buckets: Piece[][] = [];
    let current: Piece[] = [];
    let fill = 0;
    for (const array of arrays) {
      let from = 0;
      while (from < array.length) {
        const take = Math.min(bucketElems - fill, array.length - from);
        current.push({ array, from, to: from + take });
        from += take;
        fill += take;
        if (fill === bucketElems) {
          buckets.push(current);
          current = [];
          fill = 0;
        }
      }
    }
    if (current.length > 0) buckets.push(current);

    // Two buckets in flight: while one travels, the next is packed and started.
    const inFlight: { pieces: Piece[]; flat: Float32Array; done: Promise<Float32Array> }[] = [];
    const finish = async (): Promise<void> => {
      const { pieces, flat, done } = inFlight.shift()!;
      await done;
      if (pieces.length === 1) return; // reduced in place
      let at = 0;
      for (const p of pieces) {
        p.array.set(flat.subarray(at, at + (p.to - p.from)), p.from);
        at += p.to - p.from;
      }
    };
    try {
      for (const pieces of buckets) {
        let flat: Float32Array;
        if (pieces.length === 1) {
          flat = pieces[0].array.subarray(pieces[0].from, pieces[0].to);
        } else {
          flat = new Float32Array(pieces.reduce((n, p) => n + p.to - p.from, 0));
          let at = 0;
          for (const p of pieces) {
            flat.set(p.array.subarray(p.from, p.to), at);
            at += p.to - p.from;
          }
        }
        const done = this.allreduce(flat, op);
        done.catch(() => {});
        inFlight.push({ pieces, flat, done });
        if (inFlight.length >= 2) await finish();
      }
      while (inFlight.length > 0) await finish();
    } catch (error) {
      for (const f of inFlight) f.done.catch(() => {});
      throw error;
    }
    return arrays;
  }

  async broadcastArray(data: Float32Array, root = 0): Promise<Float32Array> {
    this.checkUsable();
    if (!(data instanceof Float32Array)) throw new CommunicatorError('broadcastArray expects a Float32Array', 'INVALID_ARGUMENT');
    if (!Number.isInteger(root) || root < 0 || root >= this.size) {
      throw new CommunicatorError(`broadcast root ${root} is not a rank of ${this.size}`, 'INVALID_ARGUMENT');
    }
    if (this.size === 1) return data;
    const op = this.allocOps(1);
    const seg = this.segmentElems;
    const count = Math.max(1, Math.ceil(data.length / seg));
    const piece = (i: number): Float32Array => data.subarray(i * seg, Math.min(data.length, (i + 1) * seg));
    let last: Promise<void> = Promise.resolve();
    if (this.rank === root) {
      for (let i = 0; i < count; i++) {
        await this.drain();
        last = this.sendData(op, i, bytesOf(piece(i)));
      }
    } else {
      const forward = this.next !== root;
      for (let i = 0; i < count; i++) if (piece(i).length > 0) this.expectInto(op, i, bytesOf(piece(i)));
      for (let i = 0; i < count; i++) {
        const payload = await this.recv(op, i);
        const dst = piece(i);
        this.expectBytes(payload, dst.byteLength, 'broadcast');
        if (forward) {
          await this.drain();
          last = this.sendData(op, i, payload);
        }
        if (!sameMemory(payload, dst)) dst.set(float32View(payload));
      }
    }
    await this.guard(last);
    return data;
  }

  async broadcastJson<T>(value: T, root = 0): Promise<T> {
    // Small JSON values: an all-gather is one ring pass and needs no framing of its own.
    const all = await this.allgather(this.rank === root ? { v: value } : null);
    return (all[root] as { v: T }).v;
  }

  async allgather<T>(value: T): Promise<T[]> {
    this.checkUsable();
    const json = JSON.stringify(value);
    const mine = Buffer.from(json === undefined ? 'null' : json, 'utf8');
    if (this.size === 1) return [JSON.parse(mine.toString('utf8')) as T];
    const op = this.allocOps(1);
    const n = this.size;
    const items: Buffer[] = new Array<Buffer>(n);
    items[this.rank] = mine;
    let forward: Buffer = mine;
    let last: Promise<void> = Promise.resolve();
    for (let s = 0; s < n - 1; s++) {
      last = this.sendData(op, s, forward);
      const payload = await this.recv(op, s);
      items[mod(this.rank - s - 1, n)] = payload;
      forward = payload;
    }
    await this.guard(last);
    return items.map((b) => JSON.parse(b.toString('utf8')) as T);
  }

  async barrier(): Promise<void> {
    await this.allgather(null);
  }

  /** Closes the sockets. Pending collectives reject; peers that later need this rank fail with `PEER_CLOSED`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new CommunicatorError(`rank ${this.rank}: communicator closed`, 'CLOSED');
    this.rejectFailed(error);
    this.rejectAll(error);
    const conns = [this.toNext, this.fromPrev].filter((c): c is Connection => c !== undefined);
    await Promise.all(
      conns.map(async (conn) => {
        const socket = conn.socket;
        if (socket.destroyed) return;
        const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        if (!this.failure_) void conn.send(FrameType.Goodbye, 0, 0);
        socket.end();
        const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
        await gone;
        clearTimeout(timer);
      }),
    );
  }

  // ---- the ring all-reduce of one segment ------------------------------------------------------------------

  /**
   * Reduce-scatter then all-gather over `data` with operation number `op` (steps 0 … 2(size-1)-1).
   * Chunk c (elements [c·L/N, (c+1)·L/N)) starts at rank c, is summed in rank order c, c+1, …, c-1 and ends fully
   * reduced on rank c-1, which applies the mean and sends those bytes on around the ring.
   */
  private async ringAllreduce(data: Float32Array, op: number, mean: boolean): Promise<void> {
    const n = this.size;
    const r = this.rank;
    const len = data.length;
    const chunk = (c: number): Float32Array => data.subarray(Math.floor((c * len) / n), Math.floor(((c + 1) * len) / n));
    // Say up front where each frame should land: reduce-scatter frames are summed into their chunk as they are read
    // (that chunk holds this rank's own data until then, and is sent on only once the sum is complete), all-gather
    // frames land straight in their place in `data` (safe: a fully reduced chunk can only arrive after this rank's
    // own contribution to it has been sent).
    for (let s = 0; s < n - 1; s++) {
      const sumInto = chunk(mod(r - s - 1, n));
      if (sumInto.length > 0) this.expectInto(op, s, this.reducer.sink(sumInto, mean && s === n - 2 ? n : undefined));
      const dst = chunk(mod(r - s, n));
      if (dst.length > 0) this.expectInto(op, n - 1 + s, bytesOf(dst));
    }
    let last: Promise<void> = Promise.resolve();
    for (let s = 0; s < n - 1; s++) {
      await this.drain();
      last = this.sendData(op, s, bytesOf(chunk(mod(r - s, n))));
      const payload = await this.recv(op, s);
      // Normally the payload was summed into its chunk while it was read (SUNK); if it came before this rank said
      // where it goes, it was buffered and is summed now. The last step completes the chunk this rank owns, and
      // takes the mean in the same pass.
      if (payload !== SUNK) {
        const dst = chunk(mod(r - s - 1, n));
        this.expectBytes(payload, dst.byteLength, 'allreduce');
        this.reducer.add(dst, float32View(payload), mean && s === n - 2 ? n : undefined);
      }
    }
    const owned = chunk(mod(r + 1, n));
    let forward: Uint8Array = bytesOf(owned);
    for (let s = 0; s < n - 1; s++) {
      await this.drain();
      last = this.sendData(op, n - 1 + s, forward);
      const payload = await this.recv(op, n - 1 + s);
      const dst = chunk(mod(r - s, n));
      this.expectBytes(payload, dst.byteLength, 'allreduce');
      if (!sameMemory(payload, dst)) dst.set(float32View(payload));
      forward = payload;
    }
    // Writes complete in order: once the last is out, nothing queued still points into `data`.
    await this.guard(last);
  }

  // ---- plumbing ----------------------------------------------------------------------------------------------

  private allocOps(count: number): number {
    const base = this.seq;
    this.seq = (this.seq + count) >>> 0;
    return base;
  }

  private checkUsable(): void {
    if (this.failure_) throw this.failure_;
    if (this.closed) throw new CommunicatorError(`rank ${this.rank}: communicator closed`, 'CLOSED');
    if (this.toNext?.goodbye) this.failPeerClosed(this.next);
  }

  private sendData(op: number, step: number, payload: Uint8Array): Promise<void> {
    const conn = this.toNext!;
    if (conn.goodbye) this.failPeerClosed(this.next);
    return conn.send(FrameType.Data, op, step, payload);
  }

  /** Data frame (op, step) should be read straight into `target` if it has not arrived yet. */
  private expectInto(op: number, step: number, target: Buffer | ReduceSink): void {
    const key = (op >>> 0) * STEP_SPACE + step;
    if (!this.inbox.has(key)) this.destinations.set(key, target);
  }

  private get reducer(): Reducer {
    return (this.reducer_ ??= new Reducer());
  }

  /** @internal The receiving socket's parser asks where a payload goes. */
  bodyFor(type: number, op: number, step: number, length: number): Buffer | ReduceSink | undefined {
    if (type !== FrameType.Data) return undefined;
    const key = op * STEP_SPACE + step;
    const target = this.destinations.get(key);
    if (target === undefined) return undefined;
    this.destinations.delete(key);
    return target.byteLength === length ? target : undefined;
  }

  private recv(op: number, step: number): Promise<Buffer> {
    if (this.failure_) return Promise.reject(this.failure_);
    const key = (op >>> 0) * STEP_SPACE + step;
    const ready = this.inbox.get(key);
    if (ready) {
      this.inbox.delete(key);
      return Promise.resolve(ready);
    }
    if (this.fromPrev!.goodbye) this.failPeerClosed(this.prev);
    return new Promise<Buffer>((resolve, reject) => this.waiters.set(key, { resolve, reject }));
  }

  private async drain(): Promise<void> {
    const socket = this.toNext!.socket;
    if (socket.writableLength <= MAX_QUEUED_BYTES) return;
    await this.guard(new Promise<void>((resolve) => socket.once('drain', () => resolve())));
  }

  /** `p`, or the failure if the communicator fails first. */
  private guard<T>(p: Promise<T>): Promise<T> {
    if (this.failure_) return Promise.reject(this.failure_);
    return Promise.race([p, this.failed]);
  }

  private expectBytes(payload: Buffer, expected: number, what: string): void {
    if (payload.byteLength !== expected) {
      const error = new CommunicatorError(
        `${what}: rank ${this.prev} sent ${payload.byteLength} bytes where rank ${this.rank} expected ${expected}; every rank must pass the same lengths in the same order`,
        'PROTOCOL',
        { peer: this.prev },
      );
      this.fail(error);
      throw error;
    }
  }

  private onFrame(conn: Connection, type: number, op: number, step: number, payload: Buffer): void {
    if (type === FrameType.Data) {
      if (conn !== this.fromPrev || this.failure_ || this.closed) return;
      const key = op * STEP_SPACE + step;
      // A destination named after this frame's header had arrived was never used (`bodyFor` removes those it hands out).
      this.destinations.delete(key);
      const waiter = this.waiters.get(key);
      if (waiter) {
        this.waiters.delete(key);
        waiter.resolve(payload);
      } else {
        this.inbox.set(key, payload);
      }
    } else if (type === FrameType.Abort) {
      let culprit = conn.peer;
      let reason = '';
      try {
        const body = JSON.parse(payload.toString('utf8')) as { rank?: unknown; message?: unknown };
        if (typeof body.rank === 'number') culprit = body.rank;
        if (typeof body.message === 'string') reason = body.message;
      } catch {
        // keep the neighbour as the culprit
      }
      this.fail(
        new CommunicatorError(`rank ${culprit} disconnected`, 'PEER_DISCONNECTED', {
          peer: culprit,
          cause: new Error(`reported by rank ${conn.peer}${reason ? `: ${reason}` : ''}`),
        }),
      );
    } else if (type === FrameType.Goodbye) {
      conn.goodbye = true;
      // Frames arrive in order, so whatever we still wait for from prev will never come.
      if (conn === this.fromPrev && this.waiters.size > 0) this.failPeerClosed(conn.peer);
    }
  }

  private onSocketClosed(conn: Connection): void {
    if (this.closed || this.failure_ || conn.goodbye) return;
    this.fail(
      new CommunicatorError(`rank ${conn.peer} disconnected`, 'PEER_DISCONNECTED', {
        peer: conn.peer,
        cause: conn.lastError,
      }),
    );
  }

  private failPeerClosed(peer: number): never {
    const error = new CommunicatorError(`rank ${peer} closed its communicator while rank ${this.rank} still needed it`, 'PEER_CLOSED', {
      peer,
    });
    this.fail(error);
    throw this.failure_ ?? error;
  }

  private rejectAll(error: CommunicatorError): void {
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    this.inbox.clear();
    this.destinations.clear();
    for (const w of waiters) w.reject(error);
  }

  /** Fails once: rejects everything pending, warns the neighbours, closes the sockets and tells the listeners. */
  fail(error: CommunicatorError): void {
    if (this.failure_ || this.closed) return;
    this.failure_ = error;
    this.rejectFailed(error);
    this.rejectAll(error);
    const abort = { rank: error.peer ?? this.rank, message: error.message };
    for (const conn of [this.toNext, this.fromPrev]) {
      if (!conn || conn.socket.destroyed) continue;
      if (conn.socket.writable) void conn.sendJson(FrameType.Abort, abort);
      conn.socket.end();
      setTimeout(() => conn.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) {
      try {
        listener(error);
      } catch {
        // a listener's own failure must not stop the others
      }
    }
  }
}
