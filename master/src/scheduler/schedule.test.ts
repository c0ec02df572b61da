import { describe, expect, it } from 'vitest';
import { schedule } from './schedule';
import { apply, finish, job, makeAgents, snapshot, violations } from './testing';
import type { Allocation, ScheduleResult, Snapshot } from './types';

function run(s: Snapshot): ScheduleResult {
  const r = schedule(s);
  expect(violations(s, r)).toEqual([]);
  return r;
}
const assigned = (r: ScheduleResult) => r.assign.map((a) => a.allocationId);
const reasonOf = (r: ScheduleResult, id: string) => r.waiting.find((w) => w.allocationId === id)?.reason;
const placedOn = (r: ScheduleResult, id: string) => r.assign.find((a) => a.allocationId === id)?.placement;
const runningOn = (id: string, slots: number, agentId: string, devices: number[], extra: Partial<Allocation> = {}) =>
  job(id, slots, { state: 'running', placement: [{ agentId, devices }], ...extra });

describe('gang placement', () => {
  it('places a small gang on one agent, never spread', () => {
    const agents = makeAgents(2, 8);
    const s = snapshot(agents, [runningOn('r1', 4, 'a0000', [0, 1, 2, 3]), runningOn('r2', 4, 'a0001', [0, 1, 2, 3]), job('p', 8)]);
    const r = run(s);
    expect(r.assign).toEqual([]);
    expect(reasonOf(r, 'p')).toBe('waiting for 8 free slots on one agent in pool gpu (8 free, at most 4 on one agent)');
  });

  it('places all devices of a gang at once, lowest device ids first', () => {
    const r = run(snapshot(makeAgents(1, 8), [runningOn('r', 2, 'a0000', [0, 3]), job('p', 4)]));
    expect(placedOn(r, 'p')).toEqual([{ agentId: 'a0000', devices: [1, 2, 4, 5] }]);
  });

  it('gives a gang larger than an agent whole agents', () => {
    const r = run(snapshot(makeAgents(3, 8), [runningOn('r', 1, 'a0001', [0]), job('big', 16)]));
    expect(placedOn(r, 'big')).toEqual([
      { agentId: 'a0000', devices: [0, 1, 2, 3, 4, 5, 6, 7] },
      { agentId: 'a0002', devices: [0, 1, 2, 3, 4, 5, 6, 7] },
    ]);
  });

  it('waits for whole agents and says so', () => {
    const r = run(snapshot(makeAgents(2, 8), [runningOn('r', 1, 'a0001', [0]), job('big', 16)]));
    expect(reasonOf(r, 'big')).toBe('waiting for 2 whole free agents (16 slots) in pool gpu (1 whole agent free)');
  });

  it('refuses gangs that can never fit, and pools without agents', () => {
    const r = run(snapshot(makeAgents(2, 8), [job('odd', 12), job('lost', 1, { pool: 'tpu' })]));
    expect(reasonOf(r, 'odd')).toContain('not a multiple of 8');
    expect(reasonOf(r, 'lost')).toBe("no agent in pool 'tpu'");
  });

  it('uses only agents of the allocation pool', () => {
    const agents = [...makeAgents(1, 8, 'gpu', 'g'), ...makeAgents(1, 8, 'cpu', 'c')];
    const r = run(snapshot(agents, [job('x', 4, { pool: 'cpu' }), job('y', 8)]));
    expect(placedOn(r, 'x')![0].agentId).toBe('c0000');
    expect(placedOn(r, 'y')![0].agentId).toBe('g0000');
  });

  it('skips disabled agents but keeps their running work', () => {
    const agents = makeAgents(2, 4);
    agents[0].enabled = false;
    const r = run(snapshot(agents, [runningOn('r', 2, 'a0000', [0, 1]), job('p', 2), job('q', 4)]));
    expect(placedOn(r, 'p')![0].agentId).toBe('a0001');
    expect(reasonOf(r, 'q')).toBeDefined();
  });

  it('best fit packs, worst fit spreads', () => {
    const agents = makeAgents(2, 8);
    const allocs = [runningOn('r', 6, 'a0000', [0, 1, 2, 3, 4, 5]), job('p', 2)];
    expect(placedOn(run(snapshot(agents, allocs)), 'p')![0].agentId).toBe('a0000');
    expect(placedOn(run(snapshot(agents, allocs, { fit: 'worst' })), 'p')![0].agentId).toBe('a0001');
  });

  it('places zero-slot tasks on an agent without devices', () => {
    const r = run(snapshot(makeAgents(1, 2), [runningOn('r', 2, 'a0000', [0, 1]), job('nb', 0)]));
    expect(placedOn(r, 'nb')).toEqual([{ agentId: 'a0000', devices: [] }]);
  });
});

describe('priority policy', () => {
  it('schedules lower priority numbers first, then submission order', () => {
    const r = run(snapshot(makeAgents(1, 4), [job('late', 4, { priority: 42 }), job('urgent', 4, { priority: 10 })]));
    expect(assigned(r)).toEqual(['urgent']);
    expect(reasonOf(r, 'late')).toBe('waiting for 4 free slots in pool gpu (0 free)');
    const fifo = run(snapshot(makeAgents(1, 4), [job('first', 4), job('second', 4)]));
    expect(assigned(fifo)).toEqual(['first']);
  });

  it('honours max_slots per experiment', () => {
    const s = snapshot(
      makeAgents(2, 8),
      [runningOn('r', 4, 'a0000', [0, 1, 2, 3], { groupId: 'e' }), job('p1', 4, { groupId: 'e' }), job('p2', 2, { groupId: 'e' })],
      {},
      [{ id: 'e', weight: 1, maxSlots: 8 }],
    );
    const r = run(s);
    expect(assigned(r)).toEqual(['p1']);
    expect(reasonOf(r, 'p2')).toBe('experiment at max_slots (8)');
  });

  it('backfills slots a blocked gang cannot use, but not the agent reserved for it', () => {
    // Two agents with 2 free each: the 8-gang reserves one of them; 1-slot jobs backfill the other only.
    const s = snapshot(makeAgents(2, 8), [
      runningOn('r0', 6, 'a0000', [0, 1, 2, 3, 4, 5]),
      runningOn('r1', 6, 'a0001', [0, 1, 2, 3, 4, 5]),
      job('gang', 8, { priority: 10 }),
      job('s1', 1),
      job('s2', 1),
      job('s3', 1),
    ]);
    const r = run(s);
    expect(assigned(r)).toEqual(['s1', 's2']);
    const agentsUsed = new Set(r.assign.map((a) => a.placement[0].agentId));
    expect(agentsUsed.size).toBe(1);
    expect(reasonOf(r, 's3')).toBe('behind higher-priority jobs');
    expect(reasonOf(r, 'gang')).toContain('waiting for 8 free slots');
  });

  it('reserves for the head of the line only, unless told otherwise', () => {
    const allocs = [
      runningOn('r0', 6, 'a0000', [0, 1, 2, 3, 4, 5]),
      runningOn('r1', 6, 'a0001', [0, 1, 2, 3, 4, 5]),
      job('gang1', 8, { priority: 10 }),
      job('gang2', 8, { priority: 10 }),
      job('s1', 1),
      job('s2', 1),
      job('s3', 1),
      job('s4', 1),
    ];
    expect(assigned(run(snapshot(makeAgents(2, 8), allocs)))).toEqual(['s1', 's2']);
    expect(assigned(run(snapshot(makeAgents(2, 8), allocs, { reservationDepth: 2 })))).toEqual([]);
    expect(assigned(run(snapshot(makeAgents(2, 8), allocs, { reservationDepth: 0 })))).toEqual(['s1', 's2', 's3', 's4']);
  });

  it('preempts the fewest, lowest-priority, newest victims on one agent', () => {
    const s = snapshot(
      makeAgents(2, 4),
      [
        runningOn('old-low', 2, 'a0000', [0, 1], { priority: 50, order: 1 }),
        runningOn('new-low', 2, 'a0000', [2, 3], { priority: 50, order: 2 }),
        runningOn('mid', 2, 'a0001', [0, 1], { priority: 30, order: 3 }),
        runningOn('keep', 2, 'a0001', [2, 3], { priority: 30, order: 4, preemptible: false }),
        job('hi', 2, { priority: 10, order: 5 }),
      ],
      { preemption: true },
    );
    const r = run(s);
    expect(r.preempt).toEqual(['new-low']);
    expect(r.assign).toEqual([]);
    expect(reasonOf(r, 'hi')).toBe('preempting 1 lower-priority allocation to make room');
  });

  it('frees a whole agent for a gang rather than scattering preemptions', () => {
    const s = snapshot(
      makeAgents(2, 4),
      [
        runningOn('x1', 1, 'a0000', [0], { priority: 50 }),
        runningOn('x2', 1, 'a0001', [0], { priority: 50 }),
        runningOn('x3', 1, 'a0001', [1], { priority: 50 }),
        job('hi', 4, { priority: 1 }),
      ],
      { preemption: true },
    );
    expect(run(s).preempt).toEqual(['x1']);
  });

  it('never preempts equal or higher priority, nor when preemption is off', () => {
    const allocs = [runningOn('r', 4, 'a0000', [0, 1, 2, 3], { priority: 42 }), job('p', 4, { priority: 42 })];
    expect(run(snapshot(makeAgents(1, 4), allocs, { preemption: true })).preempt).toEqual([]);
    const lower = [runningOn('r', 4, 'a0000', [0, 1, 2, 3], { priority: 60 }), job('p', 4, { priority: 1 })];
    expect(run(snapshot(makeAgents(1, 4), lower)).preempt).toEqual([]);
  });

  it('does not let backfill take slots freed for a preempting gang, nor reassign victims in the same pass', () => {
    const s = snapshot(
      makeAgents(1, 4),
      [runningOn('low', 4, 'a0000', [0, 1, 2, 3], { priority: 60 }), job('hi', 4, { priority: 1 }), job('tiny', 1, { priority: 70 })],
      { preemption: true },
    );
    const r = run(s);
    expect(r.preempt).toEqual(['low']);
    expect(r.assign).toEqual([]);
    // Next pass: the victim is still exiting; nothing new is preempted and nobody steals its slots.
    const s2 = apply(s, r, false);
    const r2 = run(s2);
    expect(r2.preempt).toEqual([]);
    expect(r2.assign).toEqual([]);
    expect(reasonOf(r2, 'hi')).toBe('waiting for preempted allocations to exit');
    // Once it exited, the gang gets the agent; the victim waits.
    const s3 = finish(s2, ['low']);
    const r3 = run(s3);
    expect(assigned(r3)).toEqual(['hi']);
  });

  it('preempts whole agents for a multi-agent gang', () => {
    const s = snapshot(
      makeAgents(3, 4),
      [
        runningOn('a', 4, 'a0000', [0, 1, 2, 3], { priority: 50 }),
        runningOn('b', 2, 'a0001', [0, 1], { priority: 50 }),
        runningOn('c', 1, 'a0002', [0], { priority: 1 }),
        job('big', 8, { priority: 10 }),
      ],
      { preemption: true },
    );
    const r = run(s);
    expect(r.preempt.sort()).toEqual(['a', 'b']);
  });
});

describe('two 16-slot jobs on 16 slots', () => {
  const agents = makeAgents(2, 8);
  it('one runs, the other waits, and no pass deadlocks', () => {
    let s = snapshot(agents, [job('j1', 16), job('j2', 16)], { preemption: true });
    const seenRunning: string[][] = [];
    for (let pass = 0; pass < 5; pass++) {
      const r = run(s);
      s = apply(s, r);
      seenRunning.push(s.allocations.filter((a) => a.state === 'running').map((a) => a.id));
    }
    expect(seenRunning.every((ids) => ids.length === 1 && ids[0] === 'j1')).toBe(true);
    s = finish(s, ['j1']);
    const r = run(s);
    expect(assigned(r)).toEqual(['j2']);
  });

  it('a higher-priority one preempts the other, which then waits without ping-pong', () => {
    let s = snapshot(agents, [job('low', 16, { priority: 50 })], { preemption: true });
    s = apply(s, run(s));
    s = { ...s, allocations: [...s.allocations, job('high', 16, { priority: 5 })] };
    const history: string[] = [];
    for (let pass = 0; pass < 6; pass++) {
      const r = run(s);
      history.push(`${assigned(r).join(',')}|${r.preempt.join(',')}`);
      s = apply(s, r);
    }
    expect(history).toEqual(['|low', 'high|', '|', '|', '|', '|']);
  });
});
