import { describe, expect, it } from 'vitest';
import type { LiveAllocation } from '../db/allocations';
import type { ScheduleOptions } from '../scheduler/types';
import { buildSnapshot, SnapshotBuilder } from './snapshot';

const OPTS: ScheduleOptions = { policy: 'fair_share', fit: 'best', preemption: true };
const AGENTS = [{ id: 'a1', pool: 'default', slots: [0, 1], enabled: true }];

function row(seq: number, over: Partial<LiveAllocation> = {}): LiveAllocation {
  return {
    id: `alloc-${seq}`,
    trialId: seq,
    experimentId: 1 + (seq % 3),
    state: 'PENDING',
    slots: 1,
    pool: 'default',
    placement: null,
    token: `t${seq}`,
    preemptRequested: false,
    killRequested: false,
    seq,
    createdAt: new Date(1_700_000_000_000 + seq),
    priority: 42,
    weight: 1,
    maxSlots: null,
    ...over,
  };
}

describe('SnapshotBuilder', () => {
  it('builds what buildSnapshot builds, handing unchanged rows their allocation objects again', () => {
    const b = new SnapshotBuilder();
    let rows = [1, 2, 3, 4, 5].map((s) => row(s));
    const first = b.build(AGENTS, rows, OPTS);
    expect(first).toEqual(buildSnapshot(AGENTS, rows, OPTS));
    // Row 2 ends, row 4 changes (a new object), row 6 arrives; rows 1, 3 and 5 are the same objects.
    rows = [rows[0], rows[2], row(4, { state: 'RUNNING', placement: [{ agentId: 'a1', devices: [0] }] }), rows[4], row(6)];
    const second = b.build(AGENTS, rows, OPTS);
    expect(second).toEqual(buildSnapshot(AGENTS, rows, OPTS));
    expect(second.allocations[0]).toBe(first.allocations[0]);
    expect(second.allocations[1]).toBe(first.allocations[2]);
    expect(second.allocations[2]).not.toBe(first.allocations[3]);
    expect(second.allocations[2]).toMatchObject({ id: 'alloc-4', state: 'running' });
    expect(second.allocations[3]).toBe(first.allocations[4]);
    // Rows read afresh (new objects with the same values) are built anew, and equal.
    const fresh = rows.map((r) => ({ ...r }));
    const third = b.build(AGENTS, fresh, OPTS);
    expect(third).toEqual(second);
    expect(third.allocations[0]).not.toBe(second.allocations[0]);
  });

  it('stays right when rows come in another order than last time', () => {
    const b = new SnapshotBuilder();
    const rows = [1, 2, 3].map((s) => row(s));
    b.build(AGENTS, rows, OPTS);
    const reversed = [...rows].reverse();
    expect(b.build(AGENTS, reversed, OPTS)).toEqual(buildSnapshot(AGENTS, reversed, OPTS));
    expect(b.build(AGENTS, rows, OPTS)).toEqual(buildSnapshot(AGENTS, rows, OPTS));
  });
});
