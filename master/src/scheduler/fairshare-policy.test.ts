import { describe, expect, it } from 'vitest';
import { schedule } from './schedule';
import { apply, job, makeAgents, snapshot, violations } from './testing';
import type { Allocation, Group, ScheduleResult, Snapshot } from './types';

function run(s: Snapshot): ScheduleResult {
  const r = schedule(s);
  expect(violations(s, r)).toEqual([]);
  return r;
}
const jobs = (group: string, n: number, slots = 1, extra: Partial<Allocation> = {}) =>
  Array.from({ length: n }, (_, i) => job(`${group}-${i}`, slots, { groupId: group, ...extra }));
const runningPerGroup = (s: Snapshot) => {
  const out: Record<string, number> = {};
  for (const a of s.allocations) if (a.state === 'running') out[a.groupId] = (out[a.groupId] ?? 0) + a.slots;
  return out;
};
const fair = (agents = makeAgents(2, 8), allocs: Allocation[] = [], groups: Group[] = [], preemption = false) =>
  snapshot(agents, allocs, { policy: 'fair_share', preemption }, groups);

describe('fair share policy', () => {
  it('splits slots between experiments in proportion to weight', () => {
    const s = fair(makeAgents(2, 6), [...jobs('a', 20), ...jobs('b', 20)], [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 2 },
    ]);
    expect(runningPerGroup(apply(s, run(s)))).toEqual({ a: 4, b: 8 });
  });

  it('gives a small demand all it asks and shares the rest (water-filling)', () => {
    const s = fair(makeAgents(1, 8), [...jobs('a', 1), ...jobs('b', 10), ...jobs('c', 10)], [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 1 },
    ]);
    const r = run(s);
    const counts = runningPerGroup(apply(s, r));
    expect(counts.a).toBe(1);
    expect(Math.abs(counts.b - 3.5)).toBeLessThanOrEqual(1);
    expect(counts.b + counts.c).toBe(7);
    expect(r.waiting.find((w) => w.allocationId === 'b-9')?.reason).toMatch(/experiment at its fair share \(\d of \d slots in pool gpu\)/);
  });

  it('preempts an experiment above its share for one below it, then converges', () => {
    let s = fair(makeAgents(1, 8), jobs('hog', 8), [], true);
    s = apply(s, run(s));
    expect(runningPerGroup(s)).toEqual({ hog: 8 });
    s = { ...s, allocations: [...s.allocations, ...jobs('new', 8)] };
    const r = run(s);
    expect(r.preempt).toHaveLength(4);
    expect(r.preempt.every((id) => id.startsWith('hog'))).toBe(true);
    s = apply(s, r);
    s = apply(s, run(s));
    expect(runningPerGroup(s)).toEqual({ hog: 4, new: 4 });
    // Stable: nothing more moves.
    const again = run(s);
    expect(again.assign).toEqual([]);
    expect(again.preempt).toEqual([]);
  });

  it('does not preempt without preemption enabled, and never takes a group below its share', () => {
    let s = fair(makeAgents(1, 8), jobs('hog', 8));
    s = apply(s, run(s));
    s = { ...s, allocations: [...s.allocations, ...jobs('new', 8)] };
    expect(run(s).preempt).toEqual([]);
    // A single 8-slot gang above a 4-slot share is not preempted: that would leave its group at 0 < 4.
    let g = fair(makeAgents(1, 8), jobs('big', 1, 8), [], true);
    g = apply(g, run(g));
    g = { ...g, allocations: [...g.allocations, ...jobs('small', 8)] };
    expect(run(g).preempt).toEqual([]);
  });

  it('honours max_slots and shares what it leaves', () => {
    const s = fair(makeAgents(1, 8), [...jobs('a', 10), ...jobs('b', 10)], [
      { id: 'a', weight: 1, maxSlots: 2 },
      { id: 'b', weight: 1 },
    ]);
    const r = run(s);
    expect(runningPerGroup(apply(s, r))).toEqual({ a: 2, b: 6 });
    expect(r.waiting.find((w) => w.allocationId === 'a-5')?.reason).toBe('experiment at max_slots (2)');
  });

  it('lets spare slots go to anyone rather than idle', () => {
    // a's share is 4 but its gangs of 8 do not fit in that; b may use the rest meanwhile.
    const s = fair(makeAgents(2, 8), [...jobs('a', 1, 8), ...jobs('b', 20)]);
    const counts = runningPerGroup(apply(s, run(s)));
    expect(counts.a).toBe(8);
    expect(counts.b).toBe(8);
  });
});
