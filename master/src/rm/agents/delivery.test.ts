// The delivery protocol end to end in memory: the agent's real outbox (a file) and the master's rule, with a
// store that fails for a while (a database outage) and a master that forgets everything (a restart).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../../../agent/src/outbox';
import { deliveryOf } from './delivery';

/** A master: stores sequenced exits in order, once each, acknowledging after storing. */
function master(failing: () => boolean) {
  const stored: string[] = [];
  let storedSeq = 0;
  return {
    stored,
    /** Handles one frame; returns the acknowledgement sent, if any. */
    receive(m: { seq: number; allocationId: string }): number | null {
      const d = deliveryOf(storedSeq, m.seq);
      if (d === 'repeat') return storedSeq;
      if (d === 'gap') return null;
      if (failing()) return null; // could not store: no acknowledgement
      stored.push(m.allocationId);
      storedSeq = m.seq;
      return m.seq;
    },
    restart(persistedSeq: number) {
      storedSeq = persistedSeq;
    },
    get seq() {
      return storedSeq;
    },
  };
}

const exit = (allocationId: string) => ({ type: 'taskState' as const, allocationId, rank: 0, state: 'exited' as const, exitCode: 1 });

describe('agent message delivery', () => {
  it('drops nothing and stores nothing twice while the master cannot store, then after an agent restart', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-delivery-'));
    let down = false;
    const m = master(() => down);
    let box = new Outbox(dir);
    const sendAll = () => {
      for (const msg of [...box.unacked()]) {
        const ack = m.receive(msg as { seq: number; allocationId: string });
        if (ack !== null) box.ack(ack);
      }
    };
    // Sent as they come: stored and acknowledged.
    for (const id of ['a', 'b']) {
      const msg = box.enqueue(exit(id));
      const ack = m.receive(msg as { seq: number; allocationId: string });
      if (ack !== null) box.ack(ack);
    }
    expect(m.stored).toEqual(['a', 'b']);
    expect(box.unacked()).toHaveLength(0);
    // The database goes away: c fails to store; d and e, past the gap, are ignored. Nothing is acknowledged.
    down = true;
    for (const id of ['c', 'd', 'e']) {
      const msg = box.enqueue(exit(id));
      expect(m.receive(msg as { seq: number; allocationId: string })).toBeNull();
    }
    down = false;
    // The agent is killed and restarted before its next retry: the outbox file still holds c, d, e.
    box = new Outbox(dir);
    expect(box.unacked().map((x) => x.seq)).toEqual([3, 4, 5]);
    sendAll();
    expect(m.stored).toEqual(['a', 'b', 'c', 'd', 'e']);
    // The acknowledgement of e was lost and the agent sends it again: acknowledged, not stored twice.
    const again = { ...exit('e'), seq: 5 };
    expect(m.receive(again)).toBe(5);
    expect(m.stored).toEqual(['a', 'b', 'c', 'd', 'e']);
    // A restarted master reads its stored position back (agents.outbox_seq) and goes on from there.
    m.restart(5);
    box.enqueue(exit('f'));
    sendAll();
    expect(m.stored).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(new Outbox(dir).unacked()).toHaveLength(0);
  });

  it('tells a repeat, the next message and one past a gap apart', () => {
    expect(deliveryOf(0, 1)).toBe('store');
    expect(deliveryOf(7, 8)).toBe('store');
    expect(deliveryOf(7, 7)).toBe('repeat');
    expect(deliveryOf(7, 2)).toBe('repeat');
    expect(deliveryOf(7, 9)).toBe('gap');
  });
});
