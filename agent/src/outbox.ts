// The agent's outbox: messages that must reach the master (rank exits, log batches, rank starts) get a sequence
// number and stay here until the master acknowledges them (`ack`, cumulative: every seq up to it is stored). They
// are re-sent after a reconnect, and again while unacknowledged, in order; the master stores each seq once.
//
// It lives in a file in the agent's work directory, so that a restarted agent still delivers what its previous
// life queued: a journal of JSON lines — a header ({epoch}), then each message as it is queued, then {acked: n}
// lines. Loading skips a torn last line (a crash mid-append). The file is rewritten (temporary file, then rename)
// when mostly acknowledged. A write goes to the kernel before the message may be sent, so a killed agent loses
// nothing; a machine crash can lose the last writes (no fsync per message: log batches come several times a second).
//
// The epoch is a random id of this outbox: a fresh work directory (a new machine under the same agent id) starts
// numbering at 1 again with a new epoch, and the master resets its count instead of taking the messages for repeats.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentToMaster } from '@hone/protocol';

/** A message as queued: any agent message but hello and heartbeat, with its sequence number. */
export type Sequenced = Exclude<AgentToMaster, { type: 'hello' } | { type: 'heartbeat' }> & { seq: number };
type Unsequenced<T> = T extends unknown ? Omit<T, 'seq'> : never;
export type Outgoing = Unsequenced<Exclude<AgentToMaster, { type: 'hello' } | { type: 'heartbeat' }>>;

/** Compact when at least this many entries (or bytes) are in the file, and acknowledged ones are most of it. */
const COMPACT_AFTER = 2000;
const COMPACT_BYTES = 32 * 1024 * 1024;

export class Outbox {
  readonly file: string;
  epoch = '';
  private nextSeq = 1;
  private acked = 0;
  private readonly pending: Sequenced[] = [];
  private fileEntries = 0;
  private fileBytes = 0;

  constructor(dir: string, private readonly onError: (e: Error) => void = () => undefined) {
    this.file = path.join(dir, 'outbox.jsonl');
    this.load();
  }

  private load(): void {
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(e as Error);
    }
    const byseq = new Map<number, Sequenced>();
    for (const line of text.split('\n')) {
      if (!line) continue;
      let v: any;
      try {
        v = JSON.parse(line);
      } catch {
        continue; // a torn line
      }
      if (typeof v?.epoch === 'string' && !this.epoch) this.epoch = v.epoch;
      else if (typeof v?.acked === 'number') this.acked = Math.max(this.acked, v.acked);
      else if (typeof v?.seq === 'number' && typeof v?.type === 'string') byseq.set(v.seq, v as Sequenced);
    }
    if (!this.epoch) {
      this.epoch = crypto.randomBytes(9).toString('base64url');
      this.acked = 0;
      byseq.clear();
    }
    for (const m of [...byseq.values()].sort((a, b) => a.seq - b.seq)) {
      this.nextSeq = Math.max(this.nextSeq, m.seq + 1);
      if (m.seq > this.acked) this.pending.push(m);
    }
    this.nextSeq = Math.max(this.nextSeq, this.acked + 1);
    this.rewrite();
  }

  /** Messages not yet acknowledged, oldest first. */
  unacked(): readonly Sequenced[] {
    return this.pending;
  }

  /** The lowest seq the master may still get from us (everything below was acknowledged). */
  firstSeq(): number {
    return this.pending[0]?.seq ?? this.nextSeq;
  }

  /** Gives `msg` the next seq and records it; returns it as it is to be sent. */
  enqueue(msg: Outgoing): Sequenced {
    const m = { ...msg, seq: this.nextSeq++ } as Sequenced;
    this.pending.push(m);
    this.append(m);
    return m;
  }

  /** The master stored every message up to `seq`: forget them. Returns those acknowledged now. */
  ack(seq: number): Sequenced[] {
    if (seq <= this.acked) return [];
    this.acked = seq;
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.seq <= seq) n++;
    const done = this.pending.splice(0, n);
    if ((this.fileEntries >= COMPACT_AFTER || this.fileBytes >= COMPACT_BYTES) && this.pending.length * 4 < this.fileEntries) this.rewrite();
    else this.append({ acked: seq });
    return done;
  }

  private append(v: object): void {
    try {
      const line = JSON.stringify(v) + '\n';
      fs.appendFileSync(this.file, line, { mode: 0o600 });
      this.fileEntries++;
      this.fileBytes += Buffer.byteLength(line);
    } catch (e) {
      this.onError(e as Error);
    }
  }

  private rewrite(): void {
    const tmp = `${this.file}.tmp`;
    const lines = [JSON.stringify({ epoch: this.epoch }), JSON.stringify({ acked: this.acked }), ...this.pending.map((m) => JSON.stringify(m))];
    try {
      const text = lines.join('\n') + '\n';
      fs.writeFileSync(tmp, text, { mode: 0o600 });
      fs.renameSync(tmp, this.file);
      this.fileEntries = lines.length;
      this.fileBytes = Buffer.byteLength(text);
    } catch (e) {
      this.onError(e as Error);
    }
  }
}
