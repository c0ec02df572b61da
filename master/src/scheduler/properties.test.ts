// Property tests over random clusters and workloads.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { waterFill } from './fairshare';
import { canEverFit } from './fit';
import { scheduleIncremental, type ScheduleMemo } from './incremental';
import { runPass, schedule, scheduleReference } from './schedule';
import { apply, finish, rank, violations } from './testing';
import type { Agent, Allocation, Group, ScheduleOptions, Snapshot } from './types';

const POOLS = ['gpu', 'cpu'];

const agentsArb = fc
  .array(
    fc.record({
      pool: fc.constantFrom(...POOLS),
      size: fc.constantFrom(1, 2, 4, 4, 8, 8),
      enabled: fc.integer({ min: 0, max: 4 }).map((n) => n > 0),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((xs): Agent[] =>
    xs.map((x, i) => ({ id: `ag${i}`, pool: x.pool, slots: Array.from({ length: x.size }, (_, d) => d), enabled: x.enabled })),
  );

const allocArb = fc.record({
  pool: fc.constantFrom(...POOLS),
  slots: fc.constantFrom(0, 1, 1, 2, 2, 3, 4, 4, 8, 16),
  priority: fc.constantFrom(1, 10, 42, 42, 60, 99),
  group: fc.integer({ min: 0, max: 4 }),
  preemptible: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
});

const groupsArb = fc.array(
  fc.record({ weight: fc.integer({ min: 1, max: 4 }), max: fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }) }),
  { minLength: 5, maxLength: 5 },
);

const optionsArb = fc.record({
  policy: fc.constantFrom<ScheduleOptions['policy']>('priority', 'fair_share'),
  fit: fc.constantFrom<ScheduleOptions['fit']>('best', 'worst'),
  preemption: fc.boolean(),
  reservationDepth: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});

/** A random cluster state: some allocations were scheduled and are running (some preempting), others pending. */
const scenarioArb = fc
  .record({
    agents: agentsArb,
    first: fc.array(allocArb, { maxLength: 14 }),
    later: fc.array(allocArb, { maxLength: 14 }),
    groups: groupsArb,
    options: optionsArb,
    finished: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
    preempting: fc.boolean(),
  })
  .map((x): Snapshot => {
    const groups: Group[] = x.groups.map((g, i) => ({ id: `g${i}`, weight: g.weight, maxSlots: g.max }));
    const toAlloc = (a: (typeof x.first)[number], i: number, base: number): Allocation => ({
      id: `j${base + i}`,
      groupId: `g${a.group}`,
      pool: a.pool,
      slots: a.slots,
      priority: a.priority,
      preemptible: a.preemptible,
      order: base + i,
      state: 'pending',
    });
    // Warm-up pass with the default policy builds a valid running state.
    let s: Snapshot = { agents: x.agents, allocations: x.first.map((a, i) => toAlloc(a, i, 0)), groups: [], options: { policy: 'priority', fit: 'best', preemption: false } };
    s = apply(s, schedule(s));
    s = finish(
      s,
      s.allocations.filter((a, i) => a.state === 'running' && x.finished[i % 14]).map((a) => a.id),
    );
    s = { ...s, groups };
    if (x.preempting) {
      const victim = s.allocations.find((a) => a.state === 'running' && a.preemptible !== false);
      if (victim) s = { ...s, allocations: s.allocations.map((a) => (a === victim ? { ...a, preempting: true } : a)) };
    }
    return { ...s, allocations: [...s.allocations, ...x.later.map((a, i) => toAlloc(a, i, 100))], options: x.options };
  });

/** Free devices per agent after applying `assign` (agent id -> set of device ids). */
function freeAfter(s: Snapshot, assign: ReturnType<typeof schedule>['assign']): Map<string, Set<number>> {
  const free = new Map(s.agents.filter((a) => a.enabled).map((a) => [a.id, new Set(a.slots)]));
  for (const a of s.allocations) {
    if (a.state === 'running') for (const p of a.placement ?? []) for (const d of p.devices) free.get(p.agentId)?.delete(d);
  }
  for (const as of assign) for (const p of as.placement) for (const d of p.devices) free.get(p.agentId)?.delete(d);
  return free;
}

// FC_RUNS=5000 searches harder; FC_SEED=<seed from a failure report> replays one.
const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 300), ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

describe('scheduler properties', () => {
  it('never places a partial gang, never double-books a slot, accounts for every pending allocation', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const r = schedule(s);
        expect(violations(s, r)).toEqual([]);
      }),
      RUNS,
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const shuffled = { ...s, agents: [...s.agents].reverse(), allocations: [...s.allocations].reverse() };
        expect(schedule(shuffled)).toEqual(schedule(s));
      }),
      { ...RUNS, numRuns: Math.ceil(RUNS.numRuns / 3) },
    );
  });

  it('priority: a lower-priority gang is never newly placed where a waiting higher-priority one could fit', () => {
    // Once failed with seed 1916130270: the check counted an idle agent of another pool as one the waiting gang could use.
    fc.assert(
      fc.property(scenarioArb, (s0) => {
        const s = { ...s0, options: { ...s0.options, policy: 'priority' as const } };
        const { pass, result } = runPass(s);
        const byId = new Map(s.allocations.map((a) => [a.id, a]));
        const free = freeAfter(s, result.assign);
        const size = new Map(s.agents.map((a) => [a.id, a.slots.length]));
        const poolOf = new Map(s.agents.map((a) => [a.id, a.pool]));
        const largest = (pool: string) => Math.max(0, ...s.agents.filter((a) => a.pool === pool).map((a) => a.slots.length));
        for (const [hid, kind] of pass.outcomes) {
          if (kind !== 'blocked') continue;
          const h = byId.get(hid)!;
          const S = largest(h.pool);
          for (const as of result.assign) {
            const l = byId.get(as.allocationId)!;
            if (l.pool !== h.pool || rank(l, h) < 0 || l.slots === 0) continue;
            if (h.slots <= S) {
              for (const p of as.placement) {
                const could = free.get(p.agentId)!.size + p.devices.length;
                expect(could < h.slots || size.get(p.agentId)! < h.slots, `${l.id} took ${p.agentId} where ${h.id} fits`).toBe(true);
              }
            } else {
              const whole = [...free].filter(([id, f]) => poolOf.get(id) === h.pool && size.get(id) === S && f.size === S).length;
              const mine = as.placement.filter((p) => size.get(p.agentId) === S && free.get(p.agentId)!.size + p.devices.length === S).length;
              expect(mine === 0 || whole + mine < h.slots / S, `${l.id} took whole agents ${h.id} needs`).toBe(true);
            }
          }
        }
      }),
      RUNS,
    );
  });

  it('priority: what happens to an allocation never depends on lower-priority pending work', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), (s0, pick) => {
        const s = { ...s0, options: { ...s0.options, policy: 'priority' as const } };
        const pending = s.allocations.filter((a) => a.state === 'pending');
        if (pending.length === 0) return;
        const h = pending[pick % pending.length];
        const without = { ...s, allocations: s.allocations.filter((a) => a.state === 'running' || rank(a, h) <= 0) };
        const full = runPass(s);
        const alone = runPass(without);
        expect(full.pass.outcomes.get(h.id)).toBe(alone.pass.outcomes.get(h.id));
        // Everything at or above h, placements and preemptions, is identical.
        const kept = new Set(without.allocations.map((a) => a.id));
        const upTo = (r: typeof full) => ({
          assign: r.result.assign.filter((a) => kept.has(a.allocationId)),
          claims: r.pass.claims.filter((c) => kept.has(c.allocationId)),
        });
        expect(upTo(full)).toEqual(upTo(alone));
      }),
      RUNS,
    );
  });

  it('priority: a gang preempts only when no waiting higher-priority gang could use those victims', () => {
    fc.assert(
      fc.property(scenarioArb, (s0) => {
        const s = { ...s0, options: { ...s0.options, policy: 'priority' as const, preemption: true } };
        const { pass } = runPass(s);
        const byId = new Map(s.allocations.map((a) => [a.id, a]));
        for (const c of pass.claims) {
          if (c.victims.length === 0) continue;
          const l = byId.get(c.allocationId)!;
          // Every victim is strictly less important than the gang that preempts it.
          for (const v of c.victims) expect((byId.get(v)!.priority ?? 42) > (l.priority ?? 42)).toBe(true);
          // A blocked, more important gang of the same pool and no larger size would have taken these victims.
          for (const [hid, kind] of pass.outcomes) {
            const h = byId.get(hid)!;
            if (kind === 'blocked' && h.pool === l.pool && rank(h, l) < 0) {
              expect(h.slots > l.slots, `${l.id} preempted while ${h.id} (${h.slots}) waits`).toBe(true);
            }
          }
        }
      }),
      RUNS,
    );
  });

  it('fair share: 1-slot workloads settle within one slot of the water-filled entitlement', () => {
    const arb = fc.record({
      agents: fc.array(fc.constantFrom(1, 2, 4, 8), { minLength: 1, maxLength: 5 }),
      groups: fc.array(fc.record({ weight: fc.integer({ min: 1, max: 5 }), jobs: fc.integer({ min: 0, max: 20 }), max: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }) }), { minLength: 1, maxLength: 5 }),
      head: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 20 }),
      preemption: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (x) => {
        const agents: Agent[] = x.agents.map((n, i) => ({ id: `a${i}`, pool: 'gpu', slots: Array.from({ length: n }, (_, d) => d), enabled: true }));
        const groups: Group[] = x.groups.map((g, i) => ({ id: `g${i}`, weight: g.weight, maxSlots: g.max }));
        let order = 0;
        const allocations: Allocation[] = [];
        // Some groups arrive first and fill the cluster (unfair start), the rest arrive later.
        for (const gi of x.head) if (gi < groups.length) allocations.push({ id: `h${order}`, groupId: `g${gi}`, pool: 'gpu', slots: 1, order: order++, state: 'pending' });
        let s: Snapshot = { agents, allocations, groups, options: { policy: 'priority', fit: 'best', preemption: false } };
        s = apply(s, schedule(s));
        x.groups.forEach((g, gi) => {
          for (let j = 0; j < g.jobs; j++) s.allocations.push({ id: `p${order}`, groupId: `g${gi}`, pool: 'gpu', slots: 1, order: order++, state: 'pending' });
        });
        s = { ...s, options: { policy: 'fair_share', fit: 'best', preemption: x.preemption } };
        for (let i = 0; i < 4; i++) {
          const r = schedule(s);
          expect(violations(s, r)).toEqual([]);
          s = apply(s, r);
        }
        const capacity = agents.reduce((n, a) => n + a.slots.length, 0);
        const demand = (g: Group) => {
          const d = s.allocations.filter((a) => a.groupId === g.id).length;
          return g.maxSlots === undefined ? d : Math.min(d, g.maxSlots);
        };
        const ent = waterFill(capacity, groups.map((g) => ({ id: g.id, weight: g.weight, demand: demand(g) })));
        const usage = (g: Group) => s.allocations.filter((a) => a.groupId === g.id && a.state === 'running').length;
        if (x.preemption) {
          for (const g of groups) expect(Math.abs(usage(g) - ent.get(g.id)!), `group ${g.id}`).toBeLessThan(1 + 1e-9);
        } else {
          // Without preemption a group only ends above its share with what it held before; none is left below
          // its share while slots are free.
          const used = s.allocations.filter((a) => a.state === 'running').length;
          for (const g of groups) {
            if (usage(g) < ent.get(g.id)! - 1 + 1e-9) expect(used).toBe(capacity);
          }
        }
      }),
      RUNS,
    );
  });

  it('every gang that can ever fit eventually runs: no deadlock across passes', () => {
    fc.assert(
      fc.property(scenarioArb, (s0) => {
        let s: Snapshot = { ...s0, agents: s0.agents.map((a) => ({ ...a, enabled: true })) };
        const max = new Map(s.groups.map((g) => [g.id, g.maxSlots ?? Infinity]));
        const target = new Set(
          s.allocations
            // canEverFit accepts gangs of an empty pool (agents may join later); with no agent they cannot run yet.
            .filter((a) => s.agents.some((g) => g.pool === a.pool) && canEverFit(s.agents, a.pool, a.slots).fits && a.slots <= max.get(a.groupId)!)
            .map((a) => a.id),
        );
        const done = new Set<string>();
        const passes = 4 * s.allocations.length + 10;
        for (let pass = 0; pass < passes && [...target].some((id) => !done.has(id)); pass++) {
          const r = schedule(s);
          expect(violations(s, r)).toEqual([]);
          s = apply(s, r);
          // The oldest running allocation finishes after each pass.
          const oldest = s.allocations.filter((a) => a.state === 'running').sort((a, b) => a.order - b.order)[0];
          if (oldest) {
            done.add(oldest.id);
            s = finish(s, [oldest.id]);
          }
        }
        for (const id of target) expect(done.has(id), `${id} never ran`).toBe(true);
      }),
      { ...RUNS, numRuns: Math.ceil((RUNS.numRuns * 2) / 3) },
    );
  });

  it('the incremental pass decides exactly as a from-scratch pass over random sequences of changes', () => {
    const change = fc.record({
      kind: fc.constantFrom('apply', 'finish', 'submit', 'same', 'preempting'),
      pick: fc.nat(1000),
      added: fc.array(allocArb, { maxLength: 4 }),
    });
    fc.assert(
      fc.property(scenarioArb, fc.array(change, { minLength: 1, maxLength: 8 }), (s0, changes) => {
        let s = s0;
        let memo: ScheduleMemo | undefined;
        let next = 1000;
        for (const c of changes) {
          const fresh = schedule(s);
          const inc = scheduleIncremental(s, memo);
          expect(inc.result).toEqual(fresh);
          memo = inc.memo;
          const running = s.allocations.filter((a) => a.state === 'running');
          if (c.kind === 'apply') s = apply(s, fresh);
          else if (c.kind === 'finish' && running.length) s = finish(s, [running[c.pick % running.length]!.id]);
          else if (c.kind === 'submit') {
            const add = c.added.map((a): Allocation => ({ id: `n${next}`, groupId: `g${a.group}`, pool: a.pool, slots: a.slots, priority: a.priority, preemptible: a.preemptible, order: next++, state: 'pending' }));
            s = { ...s, allocations: [...s.allocations, ...add] };
          } else if (c.kind === 'preempting' && running.length) {
            const v = running[c.pick % running.length]!;
            s = { ...s, allocations: s.allocations.map((a) => (a === v ? { ...a, preempting: true } : a)) };
          }
          // 'same': the identical snapshot again (the memo answers without a pass).
        }
      }),
      RUNS,
    );
  });

  it('fair share with preemption: the indexed victim search decides exactly as the straightforward one', () => {
    // A crowded pool, few groups, an unfair start (the first groups fill the cluster under the priority policy),
    // then several fair-share passes: preempted work keeps running (preempting), some running work finishes and
    // more arrives, so the searches see exiting devices, claims, whole-agent gangs and groups crossing their share.
    const job = fc.record({
      slots: fc.constantFrom(0, 1, 1, 1, 2, 2, 3, 4, 8, 16),
      priority: fc.constantFrom(10, 42, 42, 60),
      group: fc.integer({ min: 0, max: 3 }),
      preemptible: fc.integer({ min: 0, max: 5 }).map((n) => n > 0),
    });
    const arb = fc.record({
      sizes: fc.array(fc.constantFrom(1, 2, 4, 8, 8), { minLength: 1, maxLength: 10 }),
      disabled: fc.nat(20),
      head: fc.array(job.map((j) => ({ ...j, group: j.group % 2 })), { maxLength: 30 }),
      waves: fc.array(fc.array(job, { maxLength: 12 }), { minLength: 1, maxLength: 5 }),
      weights: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }),
      max: fc.option(fc.integer({ min: 2, max: 24 }), { nil: undefined }),
      fit: fc.constantFrom<ScheduleOptions['fit']>('best', 'worst'),
      depth: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
      finish: fc.array(fc.nat(1000), { minLength: 5, maxLength: 5 }),
    });
    fc.assert(
      fc.property(arb, (x) => {
        const agents: Agent[] = x.sizes.map((n, i) => ({ id: `a${i}`, pool: 'gpu', slots: Array.from({ length: n }, (_, d) => d), enabled: i !== x.disabled }));
        const groups: Group[] = x.weights.map((w, i) => ({ id: `g${i}`, weight: w, maxSlots: i === 3 ? x.max : undefined }));
        let order = 0;
        const toAlloc = (j: (typeof x.head)[number]): Allocation => ({ id: `j${order}`, groupId: `g${j.group}`, pool: 'gpu', slots: j.slots, priority: j.priority, preemptible: j.preemptible, order: order++, state: 'pending' });
        let s: Snapshot = { agents, allocations: x.head.map(toAlloc), groups, options: { policy: 'priority', fit: 'best', preemption: false } };
        s = apply(s, schedule(s));
        s = { ...s, options: { policy: 'fair_share', fit: x.fit, preemption: true, reservationDepth: x.depth } };
        x.waves.forEach((wave, w) => {
          s = { ...s, allocations: [...s.allocations, ...wave.map(toAlloc)] };
          const fast = schedule(s);
          expect(fast).toEqual(scheduleReference(s));
          s = apply(s, fast, false);
          const running = s.allocations.filter((a) => a.state === 'running');
          if (running.length > 0) s = finish(s, [running[x.finish[w] % running.length]!.id]);
        });
      }),
      RUNS,
    );
  });
});
