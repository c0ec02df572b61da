// One scheduling pass: `schedule(snapshot) -> { assign, preempt, waiting }`. Pure and deterministic.
//
// Priority policy (Determined's semantics): pending gangs in order of priority (lower number first), then
// submission order. Each gang is placed whole on free slots (gang rules in fit.ts) or it is blocked. A blocked gang
// - with preemption on, may preempt running preemptible allocations of strictly lower priority on the same agent(s)
//   so that it would then fit; it claims the slots being freed and gets them in a later pass (victims are not
//   replaced in the same pass);
// - otherwise, if it is among the first `reservationDepth` blocked gangs of its pool (default 1: the head of the
//   line, as in EASY backfilling), reserves the free slots of the agent(s) closest to fitting it, so that
//   lower-ranked work cannot starve it as slots free up. Lower-ranked gangs backfill every other free slot.
// Because gangs are taken in order and free slots only shrink during a pass, a gang that is placed or preempts can
// never use slots where a more important waiting gang would have fit.
//
// Fair share policy: each pool's capacity is divided between groups by water-filling over their demand (see
// fairshare.ts), in whole slots. Groups below their entitlement are served first, least served (slots/weight)
// first; such a group may preempt running work of groups above their entitlement (never taking a group below it),
// or reserves slots as above. Then whatever is still free goes to the remaining pending work in priority order, so
// no slot idles while something fits.
import { entitlements, type Claimant, type KeptClaimant } from './fairshare';
import { shapeRefusal } from './fit';
import { PoolState, type AgentState, type RunningState } from './pool';
import { planPreemption, VictimIndex, type Plan } from './victims';
import {
  DEFAULT_PRIORITY,
  DEFAULT_RESERVATION_DEPTH,
  DEFAULT_WEIGHT,
  type Allocation,
  type Assignment,
  type Group,
  type Placement,
  type ScheduleOptions,
  type ScheduleResult,
  type Snapshot,
  type WaitingAllocation,
} from './types';

// Module-local copies: read on every allocation of the hot path.
const DEFAULT_PRIO = DEFAULT_PRIORITY;
const DEFAULT_DEPTH = DEFAULT_RESERVATION_DEPTH;

export const priorityOf = (a: Allocation): number => a.priority ?? DEFAULT_PRIO;

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Scheduling order of the priority policy: priority number, then submission order, then id. */
export function compareAllocations(a: Allocation, b: Allocation): number {
  return priorityOf(a) - priorityOf(b) || a.order - b.order || byId(a.id, b.id);
}

export const compareRecs = (x: { a: Allocation }, y: { a: Allocation }): number => compareAllocations(x.a, y.a);

/** Adds n slots to what group g holds this pass. */
function addHeld(pass: Pass, g: string, n: number): void {
  const before = pass.held.get(g);
  if (pass.heldUndo && !pass.heldUndo.has(g)) pass.heldUndo.set(g, before);
  pass.held.set(g, (before ?? 0) + n);
}

/** A pending allocation in a pass: the allocation, its group's share of its pool (fair share), and whether the
 * pass has considered it already (`mark === pass.stamp`). */
export interface PRec {
  a: Allocation;
  share: Share | undefined;
  mark: number;
  /** `a.slots`, and its pool (null: none), read here so that the walk over a long queue touches one object each. */
  n: number;
  pool: PoolState | null;
  /** The last waiting entry made for it (reused while the reason is the same) and its reason. */
  w: WaitingAllocation | undefined;
  wr: string | undefined;
}

/** Internal state of one pass. */
export interface Pass {
  opts: ScheduleOptions;
  pools: Map<string, PoolState>;
  groups: Map<string, Group>;
  /** Slots held per group (running, preempting included, plus assigned this pass): what max_slots limits. */
  held: Map<string, number>;
  running: RunningState[];
  /** Pending allocations in priority order. */
  pending: PRec[];
  /** Marks the pending allocations this pass considered (`PRec.mark`). */
  stamp: number;
  /** Running allocations this pass marked preempting (so that the incremental scheduler can undo it). */
  victimsTaken: RunningState[];
  /** Values of `held` before this pass changed them (incremental scheduler only). */
  heldUndo?: Map<string, number | undefined>;
  assign: Assignment[];
  preempt: string[];
  waiting: WaitingAllocation[];
  /** Whether `waiting` is filled (with a reason each). The master's pass only acts on `assign` and `preempt` and
   * leaves it off; the decisions are the same either way (reasons never feed back into them). */
  reasons: boolean;
  /** The queue as typed arrays, kept by the incremental scheduler, for `pending[i]` in pool
   * `poolList[queuePool[i]]` (one with enabled agents): `queueSlots[i]` is its gang size when that is a whole
   * number of slots that fits on one agent, minus the number of whole agents when it is a gang of whole agents
   * of the largest size (and there are that many), else 0 (see `place`). The walk over a full cluster's queue
   * then reads two numbers per gang. */
  queueSlots?: Int32Array;
  queuePool?: Uint16Array;
  poolList?: PoolState[];
  /** Record `considered` and `outcomes` (for `queueOrder` and tests; off in `schedule`). */
  trace: boolean;
  /** Use the straightforward victim search everywhere (`scheduleReference`, for tests). */
  reference: boolean;
  /** Pending allocation ids in the order the pass considered them (when tracing). */
  considered: string[];
  /** What happened to each pending allocation considered (when tracing). */
  outcomes: Map<string, OutcomeKind>;
  /** Why the last allocation `place` did not place waits. */
  reason: string;
  /** Gangs that claimed slots being freed: the victims preempted for each and the agents claimed. */
  claims: Array<{ allocationId: string; victims: string[]; agents: string[] }>;
  /** Whether any group has max_slots (otherwise the per-gang group lookup is skipped). */
  anyMaxSlots: boolean;
}

/** placed; claimed slots being freed by preemption; blocked (waits for slots); refused (cannot run now at all). */
export type OutcomeKind = 'placed' | 'claimed' | 'blocked' | 'refused';

interface Mode {
  /** Whether `r` may be preempted for `a`, given the victims already picked for it. Undefined: no preemption. */
  victim?: (r: RunningState, taken: readonly RunningState[], a: Allocation) => boolean;
  /** The victim search, when indexed (otherwise the straightforward `planPreemption`). */
  plan?: (pool: PoolState, a: Allocation) => Plan | undefined;
  /** Quick test before a victim search; false skips it. */
  worthSearching?: (pool: PoolState, a: Allocation) => boolean;
  /** A failed victim search for size n implies failure for every later gang of size >= n. */
  cacheFailures: boolean;
  onPreempt?: (r: RunningState) => void;
  /** Whether a blocked gang reserves slots. */
  reserve: boolean;
  behind: string;
  preempting: (victims: number) => string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function buildPass(s: Snapshot, trace = false, reference = false): Pass {
  const pools = new Map<string, PoolState>();
  const agents = new Map<string, { st: AgentState; pool: PoolState }>();
  const sorted = [...s.agents].sort((a, b) => byId(a.id, b.id));
  for (const a of sorted) {
    if (agents.has(a.id)) continue;
    let pool = pools.get(a.pool);
    if (!pool) pools.set(a.pool, (pool = new PoolState(a.pool)));
    const st: AgentState = {
      id: a.id,
      size: a.slots.length,
      enabled: a.enabled,
      free: [...a.slots].sort((x, y) => x - y),
      exiting: 0,
      reserved: 0,
      running: [],
      bucketPos: -1,
      pos: -1,
    };
    pool.addAgent(st);
    agents.set(a.id, { st, pool });
  }

  const held = new Map<string, number>();
  const running: RunningState[] = [];
  const pending: PRec[] = [];
  let lastPool: PoolState | null = null;
  const used = new Map<AgentState, Set<number>>();
  for (const al of s.allocations) {
    if (al.state !== 'running') {
      const pool = lastPool && lastPool.name === al.pool ? lastPool : (lastPool = pools.get(al.pool) ?? null);
      pending.push({ a: al, share: undefined, mark: 0, n: al.slots, pool, w: undefined, wr: undefined });
      continue;
    }
    held.set(al.groupId, (held.get(al.groupId) ?? 0) + al.slots);
    const r: RunningState = {
      alloc: al,
      priority: priorityOf(al),
      preemptible: al.preemptible ?? true,
      preempting: al.preempting ?? false,
      devicesOn: new Map(),
    };
    running.push(r);
    const touched = new Set<PoolState>();
    for (const pl of al.placement ?? []) {
      const e = agents.get(pl.agentId);
      if (!e) continue;
      let u = used.get(e.st);
      if (!u) used.set(e.st, (u = new Set(e.st.free)));
      let n = 0;
      for (const d of pl.devices) if (u.delete(d)) n++;
      if (n === 0) continue;
      r.devicesOn.set(e.st, (r.devicesOn.get(e.st) ?? 0) + n);
      if (r.preempting) {
        e.st.exiting += n;
        e.pool.exitingTotal += n;
      } else if (!e.st.running.includes(r)) {
        e.st.running.push(r);
      }
      touched.add(e.pool);
    }
    if (!r.preempting && r.preemptible) {
      for (const p of touched) {
        p.victims++;
        if (r.priority > p.maxVictimPriority) p.maxVictimPriority = r.priority;
      }
    }
  }
  for (const [st, u] of used) st.free = st.free.filter((d) => u.has(d));
  for (const p of pools.values()) p.index();
  return {
    opts: s.options,
    pools,
    groups: new Map(s.groups.map((g) => [g.id, g])),
    held,
    running,
    pending: sortPending(pending),
    stamp: 1,
    victimsTaken: [],
    assign: [],
    preempt: [],
    waiting: [],
    reasons: true,
    trace,
    reference,
    considered: [],
    outcomes: new Map(),
    reason: '',
    claims: [],
    anyMaxSlots: s.groups.some((g) => g.maxSlots !== undefined),
  };
}

/**
 * Pending allocations in scheduling order. Priorities are small integers, so a stable counting sort by priority
 * followed by a check that each bucket is already in submission order (it usually is: the master lists
 * allocations in that order) avoids a comparison sort; anything else falls back to one.
 */
export function sortPending<T extends { a: Allocation }>(pending: T[]): T[] {
  const n = pending.length;
  const prio = new Uint8Array(n);
  const counts = new Int32Array(129);
  for (let i = 0; i < n; i++) {
    const p = pending[i].a.priority ?? DEFAULT_PRIO;
    if (!Number.isInteger(p) || p < 0 || p > 127) return pending.sort(compareRecs);
    prio[i] = p;
    counts[p + 1]++;
  }
  for (let i = 1; i < counts.length; i++) counts[i] += counts[i - 1];
  const bucketStart = counts.slice();
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[counts[prio[i]]++] = pending[i];
  // Each priority bucket is now in input order; sort those that are not in submission order.
  for (let p = 0; p < 128; p++) {
    const from = bucketStart[p];
    const to = counts[p];
    let sorted = true;
    for (let j = from + 1; j < to; j++) {
      const x = out[j - 1].a;
      const y = out[j].a;
      if (x.order > y.order || (x.order === y.order && x.id >= y.id)) {
        sorted = false;
        break;
      }
    }
    if (!sorted) {
      const part = out.slice(from, to).sort(compareRecs);
      for (let j = from; j < to; j++) out[j] = part[j - from];
    }
  }
  return out;
}

function commitPreemption(pass: Pass, pool: PoolState, a: Allocation, plan: Plan, mode: Mode): void {
  for (const r of plan.victims) {
    r.preempting = true;
    pass.victimsTaken.push(r);
    pass.preempt.push(r.alloc.id);
    for (const [ag, cnt] of r.devicesOn) {
      pool.changing(ag);
      const i = ag.running.indexOf(r);
      if (i >= 0) ag.running.splice(i, 1);
      ag.exiting += cnt;
      pool.exitingTotal += cnt;
    }
    pool.victims--;
    mode.onPreempt?.(r);
  }
  pool.failedPreemptSize = Infinity;
  pass.claims.push({
    allocationId: a.id,
    victims: plan.victims.map((r) => r.alloc.id),
    agents: plan.targets.map((t) => t.id),
  });
  claim(pool, plan.targets, a.slots);
}

/** Hold the free and exiting devices of `targets` for a blocked gang of `n`. */
function claim(pool: PoolState, targets: AgentState[], n: number): void {
  if (n > pool.largest) {
    for (const ag of targets) {
      // An agent with nothing left to hold (claimed already) does not change (the pool's reservation counts do).
      if (ag.free.length > 0 || ag.exiting > 0) pool.changing(ag);
      pool.reserveFree(ag, ag.free.length);
      pool.exitingTotal -= ag.exiting;
      ag.exiting = 0;
    }
    return;
  }
  const ag = targets[0];
  if (ag.free.length > 0 || ag.exiting > 0) pool.changing(ag);
  const f = Math.min(ag.free.length, n);
  pool.reserveFree(ag, f);
  const x = Math.min(ag.exiting, n - f);
  ag.exiting -= x;
  pool.exitingTotal -= x;
}

/** Why a gang of n is blocked. Cached per size until the pool changes: a full pool answers 100k gangs cheaply. */
function blockedReason(pool: PoolState, n: number, behind: string): string {
  if (pool.reasonVersion !== pool.version || pool.reasonBehind !== behind) {
    pool.reasonCache.clear();
    pool.reasonBySize.fill(undefined);
    pool.reasonVersion = pool.version;
    pool.reasonBehind = behind;
  }
  const small = n >= 0 && n < 64 && Number.isInteger(n);
  let r = small ? pool.reasonBySize[n] : pool.reasonCache.get(n);
  if (r === undefined) {
    r = describeBlocked(pool, n, behind);
    if (small) pool.reasonBySize[n] = r;
    else pool.reasonCache.set(n, r);
  }
  return r;
}

function describeBlocked(pool: PoolState, n: number, behind: string): string {
  if (n <= pool.largest) {
    if (pool.reservedBlockMax >= n) return behind;
    if (pool.totalFree >= n) {
      return `waiting for ${plural(n, 'free slot')} on one agent in pool ${pool.name} (${pool.totalFree} free, at most ${pool.maxFree} on one agent)`;
    }
    return `waiting for ${plural(n, 'free slot')} in pool ${pool.name} (${pool.totalFree} free)`;
  }
  const k = n / pool.largest;
  const whole = pool.buckets[pool.largest].length;
  if (whole + pool.reservedWhole >= k) return behind;
  return `waiting for ${k} whole free agents (${n} slots) in pool ${pool.name} (${plural(whole, 'whole agent')} free)`;
}

function reserveFor(pool: PoolState, n: number): void {
  if (pool.maxFree === 0) return;
  if (n <= pool.largest) {
    const ag = pool.mostFreeOne(n);
    if (ag) claim(pool, [ag], n);
  } else {
    const ags = pool.mostFree(n / pool.largest, pool.largest);
    if (ags.length > 0) claim(pool, ags, n);
  }
}

/** Try to place one pending allocation; on success it is recorded in `pass.assign`. */
function tryPlace(pass: Pass, a: Allocation, mode: Mode): OutcomeKind {
  const kind = place(pass, a, mode);
  if (pass.trace) {
    pass.considered.push(a.id);
    pass.outcomes.set(a.id, kind);
  }
  return kind;
}

function refuse(pass: Pass, reason: string): OutcomeKind {
  pass.reason = reason;
  return 'refused';
}

/** Place `a` or say why not (in `pass.reason`); no allocation on the blocked path when the reason is cached. */
function place(pass: Pass, a: Allocation, mode: Mode): OutcomeKind {
  const pool = pass.pools.get(a.pool);
  if (!pool) return refuse(pass, `no agent in pool '${a.pool}'`);
  const n = a.slots;
  // Common case inline; the shape rules (fit.ts) decide the rest.
  if (!(n > 0 && n <= pool.largest && Number.isInteger(n))) {
    const never = shapeRefusal(pool, n);
    if (never) return refuse(pass, never);
  }
  if (pool.enabledCount === 0) return refuse(pass, `no enabled agent in pool '${a.pool}'`);
  const max = pass.anyMaxSlots ? pass.groups.get(a.groupId)?.maxSlots : undefined;
  if (max !== undefined && (pass.held.get(a.groupId) ?? 0) + n > max) {
    return refuse(pass, `experiment at max_slots (${max})`);
  }
  let placement: Placement[] | undefined;
  if (n === 0) {
    const ag = pool.list.find((x) => x.enabled)!;
    placement = [{ agentId: ag.id, devices: [] }];
  } else if (n <= pool.largest) {
    const ag = pool.findOne(n, pass.opts.fit);
    if (ag) placement = [{ agentId: ag.id, devices: pool.takeFree(ag, n) }];
  } else {
    const ags = pool.findWhole(n / pool.largest);
    if (ags) placement = ags.map((ag) => ({ agentId: ag.id, devices: pool.takeFree(ag, ag.free.length) }));
  }
  if (placement) {
    pass.assign.push({ allocationId: a.id, placement });
    addHeld(pass, a.groupId, n);
    return 'placed';
  }
  if (
    mode.victim &&
    pass.opts.preemption &&
    (pool.victims > 0 || pool.exitingTotal > 0) &&
    !(mode.cacheFailures && n >= pool.failedPreemptSize) &&
    (mode.worthSearching?.(pool, a) ?? true)
  ) {
    const plan = mode.plan ? mode.plan(pool, a) : planPreemption(pool, a, mode.victim);
    if (plan) {
      commitPreemption(pass, pool, a, plan, mode);
      pass.reason =
        plan.victims.length > 0 ? mode.preempting(plan.victims.length) : 'waiting for preempted allocations to exit';
      return 'claimed';
    }
    if (mode.cacheFailures) pool.failedPreemptSize = Math.min(pool.failedPreemptSize, n);
  }
  pass.reason = blockedReason(pool, n, mode.behind);
  if (mode.reserve && pool.reservingGangs < (pass.opts.reservationDepth ?? DEFAULT_DEPTH)) {
    pool.reservingGangs++;
    reserveFor(pool, n);
  }
  return 'blocked';
}

/**
 * Whether a gang of `n` at priority `prio` is certainly blocked in `pool` with no effect on the pass: it cannot
 * fit, no victim search would run, and the pool's reservations are all taken. Then its reason is the pool's cached
 * one and `place` can be skipped: once a pool is full, this answers the long tail of a large queue cheaply.
 */
function surelyBlocked(pass: Pass, pool: PoolState, n: number, prio: number, mode: Mode): boolean {
  if (!(n > pool.maxFree && n <= pool.largest && n > 0) || pass.anyMaxSlots || pool.enabledCount === 0) return false;
  if (mode.reserve && pool.reservingGangs < (pass.opts.reservationDepth ?? DEFAULT_DEPTH)) return false;
  if (!mode.victim || !pass.opts.preemption || (pool.victims === 0 && pool.exitingTotal === 0)) return true;
  if (mode.cacheFailures && n >= pool.failedPreemptSize) return true;
  return mode === PRIORITY_MODE && pool.exitingTotal === 0 && pool.maxVictimPriority <= prio;
}

/** Records that `p` waits, reusing its last entry when it says the same (incremental scheduler: fewer objects). */
function wait(pass: Pass, p: PRec, reason: string): void {
  if (!pass.reasons) return;
  if (p.wr === reason) {
    pass.waiting.push(p.w!);
    return;
  }
  p.wr = reason;
  pass.waiting.push((p.w = { allocationId: p.a.id, reason }));
}

const PRIORITY_MODE: Mode = {
  victim: (r, _taken, a) => r.priority > priorityOf(a),
  worthSearching: (pool, a) => pool.exitingTotal > 0 || pool.maxVictimPriority > priorityOf(a),
  cacheFailures: true,
  reserve: true,
  behind: 'behind higher-priority jobs',
  preempting: (v) => `preempting ${plural(v, 'lower-priority allocation')} to make room`,
};

export function runPriority(pass: Pass): void {
  let lastPool: PoolState | undefined;
  for (const p of pass.pending) {
    const a = p.a;
    const pool = lastPool && lastPool.name === a.pool ? lastPool : (lastPool = pass.pools.get(a.pool));
    if (!pass.trace && pool && surelyBlocked(pass, pool, a.slots, priorityOf(a), PRIORITY_MODE)) {
      wait(pass, p, blockedReason(pool, a.slots, PRIORITY_MODE.behind));
      continue;
    }
    if (tryPlace(pass, a, PRIORITY_MODE) !== 'placed') wait(pass, p, pass.reason);
  }
}

/** A group's share of one pool during a fair-share pass. */
export interface Share {
  id: string;
  pool: string;
  weight: number;
  /** Whole-slot entitlement. */
  ent: number;
  /** Slots in use: running and not preempting, assigned, or claimed by a preempting gang this pass. */
  usage: number;
  demand: number;
  /** The group's pending work in the pool, in scheduling order. */
  queue: PRec[];
  next: number;
  /** Cached "at its fair share" reason and the usage it was written for. */
  reason: string;
  reasonUsage: number;
  /** Usage before the pass (incremental scheduler: what `usage` is reset to after a pass). */
  baseUsage: number;
  /** Whether the pass changed `usage` (incremental scheduler: the victim index re-scores the group's agents). */
  moved: boolean;
  /** Running and pending allocations of the group in the pool (incremental scheduler). */
  members: number;
  /** usage - ent when the victim index last heard of the group (NaN: never). */
  ixMargin: number;
  /** Its claimant in the pool's kept water-filling (incremental scheduler). */
  claim: KeptClaimant | undefined;
}

export const newShare = (id: string, pool: string, weight: number): Share => ({
  id,
  pool,
  weight: weight > 0 ? weight : 1e-9,
  ent: 0,
  usage: 0,
  demand: 0,
  queue: [],
  next: 0,
  reason: '',
  reasonUsage: -1,
  baseUsage: 0,
  moved: false,
  members: 0,
  ixMargin: NaN,
  claim: undefined,
});

/**
 * Tells the pool's victim index that a group's usage or entitlement changed. A running allocation of `slots` is a
 * victim only if usage - ent >= slots (and more with other victims of its group), so while that margin stays
 * below the smallest running gang of the pool (`VictimIndex.floor`), the group's work is never a victim: a change
 * that keeps it there (a group filling up to its entitlement) changes no score and re-scores nothing.
 */
export function shareChanged(f: FairPool | undefined, s: Share): void {
  const ix = f?.index;
  if (!ix) return;
  const m = s.usage - s.ent;
  const floor = ix.floor >= 0 ? ix.floor : -Infinity;
  if (!(m < floor && s.ixMargin < floor)) ix.groupChanged(s.id);
  s.ixMargin = m;
}

/** Binary min-heap of shares by usage/weight, then id. */
class ShareHeap {
  private items: Share[] = [];
  get size(): number {
    return this.items.length;
  }
  private less(a: Share, b: Share): boolean {
    const d = a.usage / a.weight - b.usage / b.weight;
    return d < 0 || (d === 0 && a.id < b.id);
  }
  push(s: Share): void {
    const h = this.items;
    h.push(s);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): Share {
    const h = this.items;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Entitlements of every group, per pool, for a fair-share pass (also used by tests and `queueOrder`). Sets each
 * pending allocation's `share`. */
export function fairShares(pass: Pass): Map<string, Map<string, Share>> {
  const out = new Map<string, Map<string, Share>>();
  const share = (pool: string, groupId: string, fallbackWeight: number | undefined): Share => {
    let m = out.get(pool);
    if (!m) out.set(pool, (m = new Map()));
    let s = m.get(groupId);
    if (!s) {
      const g = pass.groups.get(groupId);
      m.set(groupId, (s = newShare(groupId, pool, g?.weight ?? fallbackWeight ?? DEFAULT_WEIGHT)));
    }
    return s;
  };
  for (const r of pass.running) {
    const s = share(r.alloc.pool, r.alloc.groupId, r.alloc.weight);
    s.demand += r.alloc.slots;
    if (!r.preempting) s.usage += r.alloc.slots;
  }
  let last: Share | undefined;
  for (const p of pass.pending) {
    const a = p.a;
    const s = last && last.id === a.groupId && last.pool === a.pool ? last : share(a.pool, a.groupId, a.weight);
    last = s;
    s.demand += a.slots;
    s.queue.push(p);
    p.share = s;
  }
  for (const [poolName, m] of out) setEntitlements(m, pass.pools.get(poolName)?.capacity ?? 0, pass.groups);
  return out;
}

/** Whole-slot entitlements of a pool's shares (water-filled over their demand, capped by max_slots). Returns the
 * shares whose entitlement changed. */
export function setEntitlements(m: Map<string, Share>, capacity: number, groups: Map<string, Group>): Share[] {
  const claimants: Claimant[] = [];
  for (const s of m.values()) {
    const max = groups.get(s.id)?.maxSlots;
    claimants.push({ id: s.id, weight: s.weight, demand: max === undefined ? s.demand : Math.min(s.demand, max) });
  }
  const ents = entitlements(capacity, claimants);
  const changed: Share[] = [];
  for (const s of m.values()) {
    const e = ents.get(s.id)!;
    if (e !== s.ent) {
      s.ent = e;
      changed.push(s);
    }
  }
  return changed;
}

/** What a pool's fair-share pass keeps between passes: its victim index and the test it was built with. */
export interface FairPool {
  victim: (r: RunningState, taken: readonly RunningState[], a: Allocation) => boolean;
  index?: VictimIndex;
}

/** The victim test of a pool's fair-share pass: only from another group above its entitlement, and never taking
 * that group below it. */
export function fairPool(m: Map<string, Share>): FairPool {
  return {
    victim: (r, taken, a) => {
      if (r.alloc.groupId === a.groupId) return false;
      const s = m.get(r.alloc.groupId);
      if (!s) return false;
      let after = s.usage - r.alloc.slots;
      for (const t of taken) if (t.alloc.groupId === s.id) after -= t.alloc.slots;
      return after >= s.ent;
    },
  };
}

const moveUsage = (s: Share, n: number): void => {
  s.usage += n;
  s.moved = true;
};

export function runFairShare(pass: Pass, shares: Map<string, Map<string, Share>>, fair: Map<string, FairPool> = new Map()): void {
  const poolNames = [...shares.keys()].sort(byId);
  const stamp = pass.stamp;
  for (const poolName of poolNames) {
    const m = shares.get(poolName)!;
    const pool = pass.pools.get(poolName);
    let fp = fair.get(poolName);
    if (!fp) fair.set(poolName, (fp = fairPool(m)));
    const f = fp;
    // The victim search, indexed once the pool's first search runs (see victims.ts); an index kept from an
    // earlier pass (incremental scheduler) listens from the start.
    const listen = (p: PoolState, ix: VictimIndex) => (p.changed = (ag) => ix.agentChanged(ag));
    if (pool && f.index) listen(pool, f.index);
    const mode: Mode = {
      victim: f.victim,
      plan:
        pass.reference || !pool
          ? undefined
          : (p, a) => {
              if (p !== pool) return planPreemption(p, a, f.victim);
              if (!f.index) {
                listen(p, (f.index = new VictimIndex(p, f.victim)));
                for (const s of m.values()) s.ixMargin = s.usage - s.ent;
              }
              // A group below its entitlement by at least the smallest running gang: none of its work is a victim
              // for anyone (see `shareChanged`), so the index's scores for no group are its own.
              const s = m.get(a.groupId);
              const floor = f.index.floor >= 0 ? f.index.floor : -Infinity;
              return f.index.plan(a, s !== undefined && s.usage - s.ent < floor);
            },
      cacheFailures: false,
      onPreempt: (r) => {
        const s = m.get(r.alloc.groupId);
        if (s) {
          moveUsage(s, -r.alloc.slots);
          shareChanged(f, s);
        }
      },
      reserve: true,
      behind: "behind other experiments' jobs",
      preempting: (v) => `preempting ${plural(v, 'allocation')} of experiments above their fair share`,
    };
    // Phase 1: groups below their entitlement, least served first (the heap's order is total: no sort needed).
    const heap = new ShareHeap();
    for (const s of m.values()) {
      if (s.queue.length > 0 && s.usage < s.ent) heap.push(s);
    }
    while (heap.size > 0) {
      const s = heap.pop();
      const p = s.queue[s.next++];
      const a = p.a;
      p.mark = stamp;
      const kind = tryPlace(pass, a, mode);
      if (kind !== 'placed') wait(pass, p, pass.reason);
      if (kind === 'placed' || kind === 'claimed') {
        moveUsage(s, a.slots);
        shareChanged(f, s);
      }
      // A blocked gang keeps its group's place: the group's later work waits behind it.
      if (kind === 'blocked') continue;
      if (s.next < s.queue.length && s.usage < s.ent) heap.push(s);
    }
    if (pool) pool.changed = undefined;
  }
  // Phase 2: leftover slots to everything not considered yet, in priority order, without preemption or
  // reservations. Pools are independent, so one walk over the (already sorted) queue serves them all.
  const backfill: Mode = {
    cacheFailures: false,
    reserve: false,
    behind: "behind other experiments' jobs",
    preempting: () => '',
  };
  // Blocked gangs of the long tail of a full cluster's queue are answered from the pool's cached reason.
  const quick = !pass.trace && !pass.anyMaxSlots;
  const behind = backfill.behind;
  if (quick && !pass.reasons) {
    backfillDecisions(pass, backfill);
    return;
  }
  for (const p of pass.pending) {
    if (p.mark === stamp) continue;
    const s = p.share!;
    const pool = p.pool;
    const n = p.n;
    const kind: OutcomeKind =
      quick && pool && backfillBlocked(pool, n)
        ? ((pass.reason = blockedReason(pool, n, behind)), 'blocked')
        : tryPlace(pass, p.a, backfill);
    if (kind === 'placed') {
      moveUsage(s, n);
      continue;
    }
    let reason = pass.reason;
    if (kind === 'blocked' && s.usage >= s.ent) {
      if (s.reasonUsage !== s.usage) {
        s.reasonUsage = s.usage;
        s.reason = `experiment at its fair share (${s.usage} of ${s.ent} slots in pool ${s.pool})`;
      }
      reason = s.reason;
    }
    wait(pass, p, reason);
  }
}

/** `surelyBlocked` for phase 2 of a fair-share pass (no reservations, no preemption), and for gangs of whole agents
 * too: such a gang is blocked exactly when its shape is valid and too few whole agents are free (see `place`). */
const backfillBlocked = (pool: PoolState, n: number): boolean =>
  n > 0 &&
  pool.enabledCount !== 0 &&
  (n <= pool.largest
    ? n > pool.maxFree
    : n % pool.largest === 0 && n / pool.largest <= pool.largestCount && pool.buckets[pool.largest].length < n / pool.largest);

/** Phase 2 of `runFairShare` when only decisions are wanted: the same walk, but a gang that surely cannot be
 * placed is passed over without a reason (blocked gangs have no effect on a backfill walk). On a full cluster this
 * is the long tail of the queue, so each skipped gang costs a few field reads. */
function backfillDecisions(pass: Pass, backfill: Mode): void {
  const stamp = pass.stamp;
  const pending = pass.pending;
  const { queueSlots: sizes, queuePool: poolOf, poolList } = pass;
  for (let i = 0; i < pending.length; i++) {
    // `backfillBlocked` from the typed queue when it encodes the gang (k != 0), else from its record.
    const k = sizes ? sizes[i] : 0;
    if (k !== 0) {
      const pool = poolList![poolOf![i]];
      if (k > 0 ? k > pool.maxFree : pool.buckets[pool.largest].length < -k) continue;
    }
    const p = pending[i];
    if (p.mark === stamp) continue;
    if (k === 0 && p.pool && backfillBlocked(p.pool, p.n)) continue;
    if (tryPlace(pass, p.a, backfill) === 'placed') moveUsage(p.share!, p.n);
  }
}

/** One scheduling pass. See the top of this file for the policies and types.ts for the contract. */
export function schedule(snapshot: Snapshot, opts: PassOptions = {}): ScheduleResult {
  const pass = buildPass(snapshot);
  pass.reasons = opts.reasons ?? true;
  return execute(pass, snapshot);
}

export interface PassOptions {
  /** Fill `waiting` with every pending allocation not assigned, and why (default true). False leaves it empty:
   * the same assignments and preemptions, without the walk that explains the rest of the queue. */
  reasons?: boolean;
}

/** The same pass with the straightforward victim search (no index): what `schedule` must decide, for tests. */
export function scheduleReference(snapshot: Snapshot): ScheduleResult {
  const pass = buildPass(snapshot, false, true);
  return execute(pass, snapshot);
}

function execute(pass: Pass, snapshot: Snapshot): ScheduleResult {
  if (snapshot.options.policy === 'fair_share') runFairShare(pass, fairShares(pass));
  else runPriority(pass);
  return { assign: pass.assign, preempt: pass.preempt, waiting: pass.waiting };
}

/** A pass and its internal state (for `queueOrder`). */
export function runPass(snapshot: Snapshot, trace = true): { pass: Pass; result: ScheduleResult } {
  const pass = buildPass(snapshot, trace);
  return { pass, result: execute(pass, snapshot) };
}
