import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox } from './outbox';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hone-outbox-'));
const exit = (allocationId: string) => ({ type: 'taskState' as const, allocationId, rank: 0, state: 'exited' as const, exitCode: 3 });

describe('agent outbox', () => {
  it('numbers messages and keeps them until acknowledged, across a restart (a new Outbox on the same directory)', () => {
    const dir = tmp();
    const a = new Outbox(dir);
    expect(a.enqueue(exit('x')).seq).toBe(1);
    expect(a.enqueue(exit('y')).seq).toBe(2);
    expect(a.enqueue(exit('z')).seq).toBe(3);
    expect(a.ack(1).map((m) => m.seq)).toEqual([1]);
    // The agent dies here: a new one on the same work directory still holds 2 and 3, in order, same epoch.
    const b = new Outbox(dir);
    expect(b.epoch).toBe(a.epoch);
    expect(b.unacked().map((m) => [m.seq, m.type === 'taskState' && m.allocationId])).toEqual([
      [2, 'y'],
      [3, 'z'],
    ]);
    expect(b.firstSeq()).toBe(2);
    expect(b.enqueue(exit('w')).seq).toBe(4);
    // A cumulative acknowledgement; a stale one changes nothing.
    expect(b.ack(3).map((m) => m.seq)).toEqual([2, 3]);
    expect(b.ack(2)).toEqual([]);
    const c = new Outbox(dir);
    expect(c.unacked().map((m) => m.seq)).toEqual([4]);
    c.ack(4);
    const d = new Outbox(dir);
    expect(d.unacked()).toEqual([]);
    // Numbering goes on after everything was acknowledged: the master would take seq 1 again for a repeat.
    expect(d.firstSeq()).toBe(5);
    expect(d.enqueue(exit('v')).seq).toBe(5);
  });

  it('drops nothing while the master does not acknowledge (it could not store them)', () => {
    const dir = tmp();
    const o = new Outbox(dir);
    for (let i = 0; i < 3000; i++) o.enqueue(exit(`a${i}`));
    expect(o.unacked()).toHaveLength(3000);
    const again = new Outbox(dir);
    expect(again.unacked()).toHaveLength(3000);
    expect(again.unacked()[2999]!.seq).toBe(3000);
  });

  it('skips a torn last line (the agent was killed mid-write) and compacts once mostly acknowledged', () => {
    const dir = tmp();
    const o = new Outbox(dir);
    for (let i = 0; i < 2500; i++) o.enqueue(exit(`a${i}`));
    o.ack(2499);
    // Compacted: the file holds the header, the acknowledged count and the one message left.
    expect(fs.readFileSync(o.file, 'utf8').trim().split('\n')).toHaveLength(3);
    fs.appendFileSync(o.file, '{"type":"taskState","seq":2501,"allocationId":"tor');
    const p = new Outbox(dir);
    expect(p.unacked().map((m) => m.seq)).toEqual([2500]);
    expect(p.enqueue(exit('next')).seq).toBe(2501);
  });

  it('a fresh work directory gets a new epoch', () => {
    expect(new Outbox(tmp()).epoch).not.toBe(new Outbox(tmp()).epoch);
  });
});
