// The incremental scheduler against the pass from scratch, over long random sequences of the changes a busy cluster
// sees between passes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IncrementalScheduler } from './incremental';
import { schedule } from './schedule';
import { apply, finish, job, makeAgents, snapshot, violations } from './testing';
import type { Agent, Allocation, Group, ScheduleOptions, Snapshot } from './types';

// FC_RUNS=2000 searches harder; FC_SEED=<seed from a failure report> replays one.
const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 200), ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

/** The snapshot rebuilt with new objects throughout, as the master builds it from database rows every pass. */
const fresh = (s: Snapshot): Snapshot => structuredClone(s);

const stepArb = fc.record({
  /** What the master did with the last pass: start its assignments; preempted work keeps running or exits. */
  applied: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
  exit: fc.boolean(),
  /** Running allocations that finish (indexes, modulo the running count). */
  finished: fc.array(fc.nat(1000), { maxLength: 3 }),
  /** Preempting allocations that exit. */
  exited: fc.integer({ min: 0, max: 2 }),
  submitted: fc.array(
    fc.record({
      pool: fc.constantFrom('gpu', 'gpu', 'gpu', 'cpu'),
      slots: fc.constantFrom(0, 1, 1, 1, 2, 2, 3, 4, 8, 16),
      priority: fc.constantFrom(10, 42, 42, 60),
      group: fc.integer({ min: 0, max: 4 }),
      preemptible: fc.integer({ min: 0, max: 5 }).map((n) => n > 0),
    }),
    { maxLength: 5 },
  ),
  /** A pending allocation withdrawn, or one whose priority changes. */
  withdrawn: fc.option(fc.nat(1000), { nil: undefined }),
  reprioritised: fc.option(fc.record({ pick: fc.nat(1000), priority: fc.constantFrom(10, 42, 60) }), { nil: undefined }),
  /** New objects for every row (else unchanged allocations keep their objects). */
  rebuilt: fc.boolean(),
  /** Only the groups with live work, as the master lists them (groups come and go). */
  live: fc.boolean(),
  /** Rarely: an agent disabled or enabled, or the groups' weights change (the scheduler rebuilds its state). */
  agentFlip: fc.integer({ min: 0, max: 120 }).map((n) => (n < 10 ? n : undefined)),
  reweigh: fc.integer({ min: 0, max: 48 }).map((n) => (n < 4 ? n : undefined)),
});

const clusterArb = fc.record({
  sizes: fc.array(fc.constantFrom(1, 2, 4, 8, 8), { minLength: 1, maxLength: 10 }),
  cpu: fc.integer({ min: 0, max: 2 }),
  weights: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 5, maxLength: 5 }),
  max: fc.option(fc.integer({ min: 2, max: 24 }), { nil: undefined }),
  options: fc.record({
    policy: fc.constantFrom<ScheduleOptions['policy']>('fair_share', 'fair_share', 'priority'),
    fit: fc.constantFrom<ScheduleOptions['fit']>('best', 'worst'),
    preemption: fc.integer({ min: 0, max: 4 }).map((n) => n > 0),
    reservationDepth: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  }),
  /** Priority-policy passes first: an unfair start that fair share then corrects by preemption. */
  unfair: fc.integer({ min: 0, max: 3 }),
  steps: fc.array(stepArb, { minLength: 2, maxLength: 14 }),
});

describe('IncrementalScheduler', () => {
  it('decides exactly as a pass from scratch over random sequences of cluster changes', () => {
    let incremental = 0;
    fc.assert(
      fc.property(clusterArb, (x) => {
        const agents: Agent[] = [
          ...x.sizes.map((n, i) => ({ id: `a${i}`, pool: 'gpu', slots: Array.from({ length: n }, (_, d) => d), enabled: true })),
          ...makeAgents(x.cpu, 4, 'cpu', 'c'),
        ];
        let groups: Group[] = x.weights.map((w, i) => ({ id: `g${i}`, weight: w, maxSlots: i === 4 ? x.max : undefined }));
        let order = 0;
        let s: Snapshot = { agents, allocations: [], groups, options: x.options };
        const sched = new IncrementalScheduler();
        // The master's scheduler: decisions only (no reasons for the gangs that wait).
        const decisions = new IncrementalScheduler({ reasons: false });
        x.steps.forEach((step, k) => {
          const add: Allocation[] = step.submitted.map((j) => ({
            id: `j${order}`,
            groupId: `g${j.group}`,
            pool: j.pool,
            slots: j.slots,
            priority: j.priority,
            preemptible: j.preemptible,
            order: order++,
            state: 'pending',
          }));
          s = { ...s, allocations: [...s.allocations, ...add] };
          const pending = s.allocations.filter((a) => a.state === 'pending');
          if (step.withdrawn !== undefined && pending.length) s = finish(s, [pending[step.withdrawn % pending.length]!.id]);
          if (step.reprioritised && pending.length) {
            const v = pending[step.reprioritised.pick % pending.length]!;
            s = { ...s, allocations: s.allocations.map((a) => (a === v ? { ...a, priority: step.reprioritised!.priority } : a)) };
          }
          if (step.agentFlip !== undefined) {
            const i = step.agentFlip % s.agents.length;
            s = { ...s, agents: s.agents.map((a, j) => (j === i ? { ...a, enabled: !a.enabled } : a)) };
          }
          if (step.reweigh !== undefined) {
            groups = groups.map((g, i) => (i === step.reweigh ? { ...g, weight: g.weight + 1 } : g));
            s = { ...s, groups };
          }
          const opts: ScheduleOptions = k < x.unfair ? { policy: 'priority', fit: 'best', preemption: false } : x.options;
          s = { ...s, options: opts };
          if (step.live) s = { ...s, groups: groups.filter((g) => s.allocations.some((a) => a.groupId === g.id)) };
          else s = { ...s, groups };
          const want = schedule(s);
          const got = sched.schedule(step.rebuilt ? fresh(s) : s);
          expect(got).toEqual(want);
          expect(violations(s, got)).toEqual([]);
          const decided = { ...want, waiting: [] };
          expect(decisions.schedule(step.rebuilt ? fresh(s) : s)).toEqual(decided);
          expect(schedule(s, { reasons: false })).toEqual(decided);
          // What the master does next.
          if (step.applied) s = apply(s, want, step.exit);
          const preempting = s.allocations.filter((a) => a.state === 'running' && a.preempting);
          s = finish(s, preempting.slice(0, step.exited).map((a) => a.id));
          const running = s.allocations.filter((a) => a.state === 'running');
          if (running.length) s = finish(s, step.finished.map((f) => running[f % running.length]!.id));
        });
        incremental += sched.stats.incremental;
      }),
      RUNS,
    );
    // The sequences mostly exercise the kept state, not rebuilds (about 3 incremental passes a sequence; how many
    // depends on the random draw, so the bound leaves room).
    expect(incremental).toBeGreaterThan(RUNS.numRuns * 2);
  });

  it('fair share with preemption on a crowded pool: decides exactly as a pass from scratch, pass after pass', () => {
    // Many groups crossing their share, preempting work that keeps running for a while, so the victim index kept
    // between passes sees every kind of change.
    const jobArb = fc.record({
      slots: fc.constantFrom(1, 1, 1, 2, 2, 3, 4, 4, 8, 16),
      priority: fc.constantFrom(10, 42, 42, 60),
      group: fc.integer({ min: 0, max: 5 }),
      preemptible: fc.integer({ min: 0, max: 7 }).map((n) => n > 0),
    });
    const arb = fc.record({
      sizes: fc.array(fc.constantFrom(2, 4, 8, 8, 8), { minLength: 2, maxLength: 16 }),
      weights: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 6, maxLength: 6 }),
      head: fc.array(jobArb.map((j) => ({ ...j, group: j.group % 2 })), { minLength: 5, maxLength: 40 }),
      fit: fc.constantFrom<ScheduleOptions['fit']>('best', 'worst'),
      depth: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
      steps: fc.array(
        fc.record({
          wave: fc.array(jobArb, { maxLength: 6 }),
          applied: fc.integer({ min: 0, max: 4 }).map((n) => n > 0),
          exit: fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
          exited: fc.integer({ min: 0, max: 3 }),
          finished: fc.array(fc.nat(1000), { maxLength: 3 }),
          rebuilt: fc.boolean(),
        }),
        { minLength: 3, maxLength: 20 },
      ),
    });
    fc.assert(
      fc.property(arb, (x) => {
        const agents: Agent[] = x.sizes.map((n, i) => ({ id: `a${i}`, pool: 'gpu', slots: Array.from({ length: n }, (_, d) => d), enabled: true }));
        const groups: Group[] = x.weights.map((w, i) => ({ id: `g${i}`, weight: w }));
        let order = 0;
        const toAlloc = (j: (typeof x.head)[number]): Allocation => ({ id: `j${order}`, groupId: `g${j.group}`, pool: 'gpu', slots: j.slots, priority: j.priority, preemptible: j.preemptible, order: order++, state: 'pending' });
        let s: Snapshot = { agents, allocations: x.head.map(toAlloc), groups, options: { policy: 'priority', fit: 'best', preemption: false } };
        s = apply(s, schedule(s));
        s = { ...s, options: { policy: 'fair_share', fit: x.fit, preemption: true, reservationDepth: x.depth } };
        const sched = new IncrementalScheduler();
        const decisions = new IncrementalScheduler({ reasons: false });
        for (const step of x.steps) {
          s = { ...s, allocations: [...s.allocations, ...step.wave.map(toAlloc)] };
          const want = schedule(s);
          expect(sched.schedule(step.rebuilt ? fresh(s) : s)).toEqual(want);
          expect(decisions.schedule(step.rebuilt ? fresh(s) : s)).toEqual({ ...want, waiting: [] });
          if (step.applied) s = apply(s, want, step.exit);
          const preempting = s.allocations.filter((a) => a.state === 'running' && a.preempting);
          s = finish(s, preempting.slice(0, step.exited).map((a) => a.id));
          const running = s.allocations.filter((a) => a.state === 'running');
          if (running.length) s = finish(s, step.finished.map((f) => running[f % running.length]!.id));
        }
        expect(sched.stats.rebuilt).toBe(1);
      }),
      RUNS,
    );
  });

  it('keeps its state across passes: a pass after a few changes does not rebuild', () => {
    const agents = makeAgents(4, 8);
    const groups = [
      { id: 'g0', weight: 1 },
      { id: 'g1', weight: 1 },
    ];
    let s = snapshot(agents, Array.from({ length: 12 }, (_, i) => job(`x${i}`, 4, { groupId: `g${i % 2}` })), { policy: 'fair_share', preemption: true }, groups);
    const sched = new IncrementalScheduler();
    for (let k = 0; k < 4; k++) {
      const r = sched.schedule(fresh(s));
      expect(r).toEqual(schedule(s));
      s = apply(s, r);
      const running = s.allocations.filter((a) => a.state === 'running');
      s = finish(s, [running[0]!.id]);
      s = { ...s, allocations: [...s.allocations, job(`y${k}`, 2, { groupId: 'g1' })] };
    }
    expect(sched.stats).toEqual({ incremental: 3, rebuilt: 1, fromScratch: 0 });
  });

  it('falls back to a pass from scratch for what it does not handle incrementally, and still decides the same', () => {
    const agents = makeAgents(2, 4);
    const a = job('a', 2, { state: 'running', placement: [{ agentId: 'a0000', devices: [0, 1] }] });
    // Two running allocations on one device: a fresh pass gives it to the first.
    const b = job('b', 2, { state: 'running', placement: [{ agentId: 'a0000', devices: [1, 2] }] });
    const c = job('c', 4);
    const s = snapshot(agents, [a, b, c]);
    const sched = new IncrementalScheduler();
    expect(sched.schedule(s)).toEqual(schedule(s));
    const t = { ...s, allocations: [b, a, c] };
    expect(sched.schedule(t)).toEqual(schedule(t));
    expect(sched.stats.fromScratch).toBe(2);
    // Once the conflict is gone, it builds its state again (after a few passes from scratch) and keeps it.
    const u = snapshot(agents, [a, c]);
    for (let k = 0; k < 12; k++) expect(sched.schedule(u)).toEqual(schedule(u));
    expect(sched.stats.rebuilt).toBe(1);
    expect(sched.stats.incremental).toBeGreaterThan(0);
    expect(sched.stats.fromScratch).toBeLessThan(12);
  });
});
