import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, launchBackoff } from './decide';
import type { InstanceView, ProviderConfig, ProvisionerSnapshot } from './types';

const T0 = 1_000_000_000;
const config = (over: Partial<ProviderConfig> = {}): ProviderConfig => ({
  type: 'local',
  min_instances: 0,
  max_instances: 3,
  idle_timeout: 60,
  max_starting_period: 120,
  slots_per_instance: 2,
  instance_type: 'local',
  launch_backoff: 30,
  max_launch_backoff: 600,
  reconcile_interval: 1,
  fields: {},
  ...over,
});
const snap = (over: Partial<ProvisionerSnapshot> = {}): ProvisionerSnapshot => ({
  pool: 'p',
  listOk: true,
  instances: [],
  pending: [],
  groups: [],
  staticFreeSlots: [],
  launchFailures: { count: 0, lastAt: 0 },
  ...over,
});
const gang = (id: string, slots: number, groupId = 'e1') => ({ id, slots, groupId });
const inst = (id: string, over: Partial<InstanceView> = {}): InstanceView => ({
  id,
  state: 'idle',
  createdAt: T0 - 600_000,
  connected: true,
  freeSlots: 2,
  busy: false,
  idleSince: T0 - 10_000,
  ...over,
});

describe('decide: table', () => {
  const cases: Array<{ name: string; s: ProvisionerSnapshot; c?: Partial<ProviderConfig>; launch: number; terminate: string[] }> = [
    { name: 'nothing pending, nothing running', s: snap(), launch: 0, terminate: [] },
    { name: 'four 1-slot gangs on 2-slot instances: two', s: snap({ pending: [1, 2, 3, 4].map((i) => gang(`g${i}`, 1)) }), launch: 2, terminate: [] },
    { name: 'eight gangs, max 3', s: snap({ pending: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => gang(`g${i}`, 1)) }), launch: 3, terminate: [] },
    { name: 'gangs of 2 do not share: three gangs of 2 → three', s: snap({ pending: [gang('a', 2), gang('b', 2), gang('c', 2)] }), launch: 3, terminate: [] },
    { name: 'a gang of 4 needs two whole instances', s: snap({ pending: [gang('a', 4)] }), launch: 2, terminate: [] },
    { name: 'a gang of 3 on 2-slot instances never fits', s: snap({ pending: [gang('a', 3)] }), launch: 0, terminate: [] },
    {
      name: 'starting instances count against demand',
      s: snap({ pending: [gang('a', 1), gang('b', 1), gang('c', 1)], instances: [inst('i1', { state: 'launching', connected: false, createdAt: T0 - 1000, idleSince: undefined })] }),
      launch: 1,
      terminate: [],
    },
    {
      name: 'max_slots caps demand',
      s: snap({ pending: [1, 2, 3, 4].map((i) => gang(`g${i}`, 1)), groups: [{ id: 'e1', maxSlots: 2, heldSlots: 0 }] }),
      launch: 1,
      terminate: [],
    },
    { name: 'idle past idle_timeout is terminated', s: snap({ instances: [inst('i1', { idleSince: T0 - 61_000 })] }), launch: 0, terminate: ['i1'] },
    { name: 'idle but not long enough stays', s: snap({ instances: [inst('i1', { idleSince: T0 - 59_000 })] }), launch: 0, terminate: [] },
    { name: 'never below min', s: snap({ instances: [inst('i1', { idleSince: T0 - 1e9 }), inst('i2', { idleSince: T0 - 1e9 })] }), c: { min_instances: 1 }, launch: 0, terminate: ['i1'] },
    { name: 'min is launched with no demand', s: snap(), c: { min_instances: 2 }, launch: 2, terminate: [] },
    { name: 'busy is never terminated', s: snap({ instances: [inst('i1', { busy: true, idleSince: undefined, state: 'running', freeSlots: 0 })] }), c: { max_instances: 1 }, launch: 0, terminate: [] },
    {
      name: 'an idle instance a pending gang will use stays',
      s: snap({ pending: [gang('a', 1)], instances: [inst('i1', { idleSince: T0 - 1e9 })] }),
      launch: 0,
      terminate: [],
    },
    {
      name: 'never registered within max_starting_period: terminated and replaced',
      s: snap({ pending: [gang('a', 1)], instances: [inst('i1', { state: 'launching', connected: false, createdAt: T0 - 121_000, idleSince: undefined })] }),
      launch: 1,
      terminate: ['i1'],
    },
    {
      name: 'failed list changes nothing',
      s: snap({ listOk: false, pending: [gang('a', 1)], instances: [inst('i1', { idleSince: T0 - 1e9 })] }),
      launch: 0,
      terminate: [],
    },
    {
      name: 'backoff after a launch error',
      s: snap({ pending: [gang('a', 1)], launchFailures: { count: 1, lastAt: T0 - 10_000 } }),
      launch: 0,
      terminate: [],
    },
    { name: 'backoff over: launches again', s: snap({ pending: [gang('a', 1)], launchFailures: { count: 1, lastAt: T0 - 31_000 } }), launch: 1, terminate: [] },
    {
      name: 'excess above a lowered max terminated when idle',
      s: snap({ instances: [inst('i1'), inst('i2'), inst('i3', { busy: true, idleSince: undefined, state: 'running' })] }),
      c: { max_instances: 1 },
      launch: 0,
      terminate: ['i1', 'i2'],
    },
    {
      name: 'free slots of fixed agents are used first',
      s: snap({ pending: [gang('a', 1), gang('b', 1)], staticFreeSlots: [2] }),
      launch: 0,
      terminate: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decide(c.s, config(c.c), T0);
      expect(d.launch).toBe(c.launch);
      expect(d.terminate.map((t) => t.id).sort()).toEqual(c.terminate);
      expect(d.reasons.length).toBeGreaterThan(0);
    });
  }

  it('backoff doubles and is capped', () => {
    const c = config();
    expect([1, 2, 3, 10, 40].map((n) => launchBackoff(c, n))).toEqual([30, 60, 120, 600, 600]);
    expect(decide(snap({ pending: [gang('a', 1)], launchFailures: { count: 3, lastAt: T0 - 119_000 } }), c, T0).reasons.join(' ')).toMatch(/backing off after 3/);
  });
});

// ---- properties ----

const arbInstance = (i: number) =>
  fc
    .record({
      state: fc.constantFrom('requested', 'launching', 'running', 'idle', 'terminating'),
      age: fc.integer({ min: 0, max: 1_000_000 }),
      connected: fc.boolean(),
      busy: fc.boolean(),
      freeSlots: fc.integer({ min: 0, max: 4 }),
      idleFor: fc.integer({ min: 0, max: 1_000_000 }),
      awayFor: fc.integer({ min: 0, max: 1_000_000 }),
    })
    .map((r): InstanceView => {
      const starting = r.state === 'requested' || r.state === 'launching';
      const busy = !starting && r.busy;
      return {
        id: `i${i}`,
        state: r.state as InstanceView['state'],
        createdAt: T0 - r.age,
        connected: starting ? false : r.connected,
        ...(!starting && !r.connected ? { disconnectedSince: T0 - r.awayFor } : {}),
        freeSlots: starting ? 4 : Math.min(4, busy ? r.freeSlots : 4),
        busy,
        ...(!starting && !busy ? { idleSince: T0 - r.idleFor } : {}),
      };
    });

const arbCase = fc
  .record({
    min: fc.integer({ min: 0, max: 3 }),
    extra: fc.integer({ min: 0, max: 5 }),
    slots: fc.constantFrom(1, 2, 4),
    idle: fc.integer({ min: 0, max: 600 }),
    n: fc.integer({ min: 0, max: 8 }),
    gangs: fc.array(fc.record({ slots: fc.constantFrom(0, 1, 2, 3, 4, 8), group: fc.constantFrom('a', 'b') }), { maxLength: 12 }),
    maxSlots: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    failures: fc.integer({ min: 0, max: 4 }),
    sinceFailure: fc.integer({ min: 0, max: 1_000_000 }),
    listOk: fc.boolean(),
  })
  .chain((r) => fc.tuple(fc.constant(r), fc.tuple(...Array.from({ length: r.n }, (_, i) => arbInstance(i)))));

function build([r, instances]: [any, InstanceView[]]): { s: ProvisionerSnapshot; c: ProviderConfig } {
  return {
    c: config({ min_instances: r.min, max_instances: r.min + r.extra + 1, slots_per_instance: r.slots, idle_timeout: r.idle }),
    s: snap({
      listOk: r.listOk,
      instances: instances.map((i) => ({ ...i, freeSlots: Math.min(i.freeSlots, r.slots) })),
      pending: r.gangs.map((g: any, i: number) => gang(`g${i}`, g.slots, g.group)),
      groups: r.maxSlots ? [{ id: 'a', maxSlots: r.maxSlots, heldSlots: 0 }] : [],
      launchFailures: { count: r.failures, lastAt: T0 - r.sinceFailure },
    }),
  };
}

describe('decide: properties', () => {
  it('never above max, never below min by terminating, never a busy instance', () => {
    fc.assert(
      fc.property(arbCase, (x) => {
        const { s, c } = build(x);
        const d = decide(s, c, T0);
        const live = s.instances.filter((i) => i.state !== 'terminating').length;
        const byId = new Map(s.instances.map((i) => [i.id, i]));
        const after = live - d.terminate.length + d.launch;
        expect(after).toBeLessThanOrEqual(Math.max(c.max_instances, live - d.terminate.length));
        if (d.launch > 0) expect(after).toBeLessThanOrEqual(c.max_instances);
        for (const t of d.terminate) {
          const i = byId.get(t.id)!;
          expect(i.busy).toBe(false);
          expect(i.state).not.toBe('terminating');
        }
        // Only failed starts and lost agents may be released at or below min (and they are replaced).
        const voluntary = d.terminate.filter((t) => t.reason === 'idle' || t.reason === 'excess').length;
        if (voluntary > 0) expect(live - d.terminate.length).toBeGreaterThanOrEqual(c.min_instances);
        expect(new Set(d.terminate.map((t) => t.id)).size).toBe(d.terminate.length);
      }),
      { numRuns: 400 },
    );
  });

  it('never launches more than the pending gangs need (beyond min_instances)', () => {
    fc.assert(
      fc.property(arbCase, (x) => {
        const { s, c } = build(x);
        const d = decide(s, c, T0);
        const live = s.instances.filter((i) => i.state !== 'terminating').length - d.terminate.length;
        // Upper bound on need: one instance per slot of demand gang (or one per 0-slot gang), whole instances for big ones.
        const need = s.pending.reduce((n, g) => n + Math.max(1, Math.ceil(g.slots / c.slots_per_instance)), 0);
        expect(d.launch).toBeLessThanOrEqual(Math.max(need, c.min_instances - live));
        const backoff = s.launchFailures.count > 0 && T0 < s.launchFailures.lastAt + launchBackoff(c, s.launchFailures.count) * 1000;
        if (s.listOk && !backoff && s.pending.length === 0) expect(d.launch).toBe(Math.max(0, Math.min(c.max_instances - live, c.min_instances - live)));
      }),
      { numRuns: 400 },
    );
  });

  it('a failed list changes nothing', () => {
    fc.assert(
      fc.property(arbCase, (x) => {
        const { s, c } = build(x);
        const d = decide({ ...s, listOk: false }, c, T0);
        expect(d.launch).toBe(0);
        expect(d.terminate).toEqual([]);
      }),
    );
  });

  it('no launch while backing off after launch errors', () => {
    fc.assert(
      fc.property(arbCase, (x) => {
        const { s, c } = build(x);
        const inBackoff = s.launchFailures.count > 0 && T0 < s.launchFailures.lastAt + launchBackoff(c, s.launchFailures.count) * 1000;
        if (inBackoff) expect(decide(s, c, T0).launch).toBe(0);
      }),
    );
  });

  it('no launch→terminate of the same demand within idle_timeout', () => {
    // Launch for demand, let the instance register at once and finish its work at once: it is not released
    // before idle_timeout has passed since it became idle, whatever happens in between.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 }), (idle, n, steps) => {
        const c = config({ idle_timeout: idle, max_instances: 6, slots_per_instance: 1 });
        const d = decide(snap({ pending: Array.from({ length: n }, (_, i) => gang(`g${i}`, 1)) }), c, T0);
        expect(d.launch).toBe(n);
        const registeredAt = T0 + 5000;
        let t = registeredAt;
        for (const dt of steps) {
          t += dt * 100;
          const instances = Array.from({ length: n }, (_, i) => inst(`i${i}`, { createdAt: T0, idleSince: registeredAt, freeSlots: 1 }));
          const r = decide(snap({ instances }), c, t);
          if (t - registeredAt < idle * 1000) expect(r.terminate).toEqual([]);
          else expect(r.terminate.length).toBe(n);
        }
      }),
    );
  });
});
