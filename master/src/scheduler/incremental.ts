// The incremental scheduler: the same decisions as `schedule(snapshot)`, from state kept between passes.
//
// A pass from scratch rebuilds everything from the snapshot: per-agent free slots and buckets, the running work on
// each agent, the sorted queue, each group's share, entitlements, the fair-share victim index. Between two passes of
// a busy cluster only a few allocations start, end or arrive, so `IncrementalScheduler` keeps those structures (as
// they are before a pass: the "base" state) and updates them for what changed:
// - the snapshot is diffed against the previous one by allocation id (walking both in order, so a snapshot listed
//   in the same order as the last costs one comparison per allocation: an allocation object of the last snapshot
//   given again is taken as unchanged without reading it (allocations are never changed in place), a new object
//   is compared field by field); each changed allocation is removed from the base state and added back as it is
//   now;
// - entitlements are water-filled again only in pools whose demand changed, and the victim index re-scores only
//   agents whose slots or work changed and agents of groups whose usage or entitlement changed;
// - the pass itself then runs the same code as `schedule` over that state, journaling what it changes (agents'
//   free, reserved and exiting slots, preempting marks, usage, held slots), and undoes it afterwards.
// Agents, options or groups that changed (rare) and snapshots the diff does not handle exactly as a fresh pass
// would (allocations listed in another relative order, duplicate ids, two running allocations on one device, a
// missing group with different weights) rebuild the state from the snapshot, or run a pass from scratch.
// Pure: no I/O, no clock, no randomness; all state is in the object the caller holds.
import { KeptEntitlements, type KeptClaimant } from './fairshare';
import { PoolState, type AgentState, type RunningState } from './pool';
import {
  compareRecs,
  newShare,
  priorityOf,
  runFairShare,
  runPriority,
  schedule,
  shareChanged,
  sortPending,
  type FairPool,
  type Pass,
  type PassOptions,
  type PRec,
  type Share,
} from './schedule';
import { DEFAULT_WEIGHT, type Agent, type Allocation, type Group, type ScheduleOptions, type ScheduleResult, type Snapshot } from './types';

/** What the state keeps of one allocation of the last snapshot. Created with the fields the diff reads first
 * (`id`, `a`): they share a cache line. Its position in the last snapshot and the diff that last matched it are
 * kept apart, in typed arrays indexed by `num` (see `State.posOf`), so that a snapshot that hands an unchanged
 * allocation over as the same object as last time is matched without reading the record at all. */
interface Rec extends PRec {
  id: string;
  /** Its index in `State.posOf` and `State.seenOf` (reused once the record is gone). */
  num: number;
  /** Running: its state and the devices it took on each agent. */
  run?: RunningState;
  taken?: Array<{ ag: AgentState; devices: number[] }>;
  /** Its place in the sorted queue: priority and submission order when it entered (with `id`). */
  kp: number;
  ko: number;
}

interface AgentEntry {
  st: AgentState;
  pool: PoolState;
  /** The agent's devices (to tell a device it does not have, which a fresh pass ignores, from a busy one). */
  slots: number[];
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Thrown inside a diff when the snapshot cannot be handled incrementally exactly as a fresh pass would. */
class Irregular extends Error {}

class State {
  readonly pools = new Map<string, PoolState>();
  readonly agents = new Map<string, AgentEntry>();
  readonly groups: Map<string, Group>;
  /** `groups`, each with when `updateGroups` last saw it. */
  readonly groupSeen = new Map<string, { group: Group; seen: number }>();
  groupStamp = 0;
  readonly anyMaxSlots: boolean;
  /** The records in the last snapshot's order, with their allocations and nums at the same positions. */
  recs: Rec[] = [];
  private recA: Allocation[] = [];
  private recNum = new Int32Array(0);
  private spareRecs: Rec[] = [];
  private spareA: Allocation[] = [];
  private spareNum = new Int32Array(0);
  /** By record num: its position in the last snapshot, and the diff stamp that last matched it. */
  posOf = new Int32Array(64);
  private seenOf = new Int32Array(64);
  private freeNums: number[] = [];
  private nextNum = 0;
  private spareQueue: Rec[] = [];
  readonly byId = new Map<string, Rec>();
  /** Pending allocations in scheduling order. */
  pending: Rec[] = [];
  /** The same queue in typed arrays (see `Pass.queueSlots`): what the walk over its long tail reads. */
  queueSlots = new Int32Array(0);
  queuePool = new Uint16Array(0);
  private spareSlots = new Int32Array(0);
  private sparePool = new Uint16Array(0);
  /** The pools in the order `queuePool` numbers them. */
  readonly poolList: PoolState[] = [];
  private readonly poolOrd = new Map<PoolState, number>();
  /** Slots held per group by running allocations. */
  readonly held = new Map<string, number>();
  readonly shares = new Map<string, Map<string, Share>>();
  readonly fair = new Map<string, FairPool>();
  /** Per pool: how many victims (running, preemptible, not preempting) of each priority. */
  readonly victimPrio = new Map<PoolState, Map<number, number>>();
  /** Per pool: its shares as claimants, kept in the orders the last water-filling sorted them in. */
  private readonly kept = new Map<string, KeptEntitlements>();
  /** Pools whose shares' demand changed since entitlements were last computed. */
  readonly entDirty = new Set<string>();
  /** Weights of shares of groups missing from the snapshot's groups (each must be the same for all their work). */
  readonly fallbackWeight = new Map<Share, number>();
  stamp = 0;
  building = true;
  /** Queue edits since the last pass. */
  private queueAdds: Rec[] = [];
  private queueRemoved: Rec[] = [];

  constructor(
    readonly snapshotAgents: Agent[],
    readonly options: ScheduleOptions,
    groupList: Group[],
  ) {
    this.groups = new Map(groupList.map((g) => [g.id, g]));
    for (const [id, group] of this.groups) this.groupSeen.set(id, { group, seen: 0 });
    this.anyMaxSlots = groupList.some((g) => g.maxSlots !== undefined);
    const sorted = [...snapshotAgents].sort((a, b) => byId(a.id, b.id));
    for (const a of sorted) {
      if (this.agents.has(a.id)) continue;
      const slots = [...a.slots].sort((x, y) => x - y);
      for (let i = 1; i < slots.length; i++) if (slots[i] === slots[i - 1]) throw new Irregular('duplicate device');
      let pool = this.pools.get(a.pool);
      if (!pool) {
        this.pools.set(a.pool, (pool = new PoolState(a.pool)));
        this.poolOrd.set(pool, this.poolList.length);
        this.poolList.push(pool);
      }
      const st: AgentState = { id: a.id, size: slots.length, enabled: a.enabled, free: slots.slice(), exiting: 0, reserved: 0, running: [], bucketPos: -1, pos: -1 };
      pool.addAgent(st);
      this.agents.set(a.id, { st, pool, slots });
    }
  }

  /** Ends building: buckets and entitlements of the state as a fresh pass would compute them. */
  finishBuild(): void {
    for (const pool of this.pools.values()) {
      pool.index();
      const words = (pool.list.length + 31) >>> 5;
      pool.base = pool.buckets.map((b) => {
        const bits = new Uint32Array(words);
        for (const ag of b) bits[ag.pos >>> 5] |= 1 << (ag.pos & 31);
        return bits;
      });
    }
    this.pending = sortPending(this.queueAdds);
    for (const r of this.pending) setKey(r);
    this.queueSlots = new Int32Array(this.pending.length);
    this.queuePool = new Uint16Array(this.pending.length);
    this.pending.forEach((r, i) => this.encode(r, this.queueSlots, this.queuePool, i));
    this.queueAdds = [];
    this.building = false;
    for (const m of this.shares.keys()) this.entDirty.add(m);
  }

  private share(a: Allocation): Share {
    let m = this.shares.get(a.pool);
    if (!m) this.shares.set(a.pool, (m = new Map()));
    let s = m.get(a.groupId);
    const g = this.groups.get(a.groupId);
    if (!s) {
      m.set(a.groupId, (s = newShare(a.groupId, a.pool, g?.weight ?? a.weight ?? DEFAULT_WEIGHT)));
      if (!g) this.fallbackWeight.set(s, a.weight ?? DEFAULT_WEIGHT);
      let k = this.kept.get(a.pool);
      if (!k) this.kept.set(a.pool, (k = new KeptEntitlements()));
      const c: KeptClaimant = { id: s.id, weight: s.weight, demand: 0, ent: 0, key: 0, real: 0, frac: 0 };
      k.add(c);
      s.claim = c;
      this.entDirty.add(a.pool);
    } else if (!g && this.fallbackWeight.get(s) !== (a.weight ?? DEFAULT_WEIGHT)) {
      throw new Irregular('weights of a missing group differ');
    }
    s.members++;
    return s;
  }

  private unshare(s: Share): void {
    if (--s.members > 0) return;
    this.shares.get(s.pool)!.delete(s.id);
    this.fallbackWeight.delete(s);
    this.kept.get(s.pool)!.remove(s.claim!);
    s.claim = undefined;
    this.entDirty.add(s.pool);
  }

  private demand(s: Share, n: number): void {
    s.demand += n;
    if (n !== 0) this.entDirty.add(s.pool);
  }

  private usage(s: Share, n: number): void {
    if (n === 0) return;
    s.usage += n;
    s.baseUsage += n;
    shareChanged(this.fair.get(s.pool), s);
  }

  private index(pool: PoolState) {
    return this.fair.get(pool.name)?.index;
  }

  /** The agent's free slot count changed from `before`: move it between the base buckets. */
  private freeChanged(e: AgentEntry, before: number): void {
    const { st, pool } = e;
    this.index(pool)?.agentChanged(st);
    if (this.building || !st.enabled || st.free.length === before) return;
    pool.totalFree += st.free.length - before;
    const base = pool.base!;
    const w = st.pos >>> 5;
    const bit = 1 << (st.pos & 31);
    if (!(base[before][w] & bit)) throw new Error('scheduler state: agent missing from its bucket');
    base[before][w] &= ~bit;
    base[st.free.length][w] |= bit;
  }

  private victimCount(pool: PoolState, priority: number, d: number): void {
    let m = this.victimPrio.get(pool);
    if (!m) this.victimPrio.set(pool, (m = new Map()));
    const c = (m.get(priority) ?? 0) + d;
    pool.victims += d;
    if (c > 0) {
      m.set(priority, c);
      if (priority > pool.maxVictimPriority) pool.maxVictimPriority = priority;
      return;
    }
    m.delete(priority);
    if (priority === pool.maxVictimPriority) {
      let max = -Infinity;
      for (const p of m.keys()) if (p > max) max = p;
      pool.maxVictimPriority = max;
    }
  }

  add(r: Rec): void {
    const a = r.a;
    if (a.state !== 'running') {
      r.n = a.slots;
      r.pool = this.pools.get(a.pool) ?? null;
      r.share = this.share(a);
      this.demand(r.share, a.slots);
      const q = r.share.queue;
      q.splice(upperBound(q, r), 0, r);
      this.queueAdds.push(r);
      return;
    }
    const run: RunningState = { alloc: a, priority: priorityOf(a), preemptible: a.preemptible ?? true, preempting: a.preempting ?? false, devicesOn: new Map(), rec: r };
    r.run = run;
    r.taken = [];
    this.held.set(a.groupId, (this.held.get(a.groupId) ?? 0) + a.slots);
    const s = (r.share = this.share(a));
    this.demand(s, a.slots);
    const touched: PoolState[] = [];
    for (const pl of a.placement ?? []) {
      const e = this.agents.get(pl.agentId);
      if (!e) continue;
      const { st, pool } = e;
      const before = st.free.length;
      let t = r.taken.find((x) => x.ag === st);
      let n = 0;
      for (const d of pl.devices) {
        const k = st.free.indexOf(d);
        if (k >= 0) {
          st.free.splice(k, 1);
          if (!t) r.taken.push((t = { ag: st, devices: [] }));
          t.devices.push(d);
          n++;
        } else if (e.slots.includes(d) && !t?.devices.includes(d)) {
          // Busy with another running allocation: a fresh pass gives it to the first in the snapshot.
          throw new Irregular('a device of two running allocations');
        }
      }
      if (n === 0) continue;
      run.devicesOn.set(st, (run.devicesOn.get(st) ?? 0) + n);
      if (run.preempting) {
        st.exiting += n;
        pool.exitingTotal += n;
      } else if (!st.running.includes(run)) {
        const list = st.running;
        let i = list.length;
        const pos = this.posOf[r.num];
        while (i > 0 && this.posOf[list[i - 1].rec!.num] > pos) i--;
        list.splice(i, 0, run);
        const ix = this.index(pool);
        if (ix && !ix.addHost(run, st)) this.fair.get(pool.name)!.index = undefined;
      }
      this.freeChanged(e, before);
      if (!touched.includes(pool)) touched.push(pool);
    }
    if (!run.preempting) this.usage(s, a.slots);
    if (!run.preempting && run.preemptible) for (const p of touched) this.victimCount(p, run.priority, 1);
  }

  remove(r: Rec): void {
    const a = r.a;
    const s = r.share!;
    r.share = undefined;
    if (!r.run) {
      this.demand(s, -a.slots);
      const q = s.queue;
      let i = upperBound(q, r) - 1;
      if (q[i] !== r) i = q.indexOf(r);
      q.splice(i, 1);
      this.queueRemoved.push(r);
      this.unshare(s);
      return;
    }
    const run = r.run;
    r.run = undefined;
    this.held.set(a.groupId, this.held.get(a.groupId)! - a.slots);
    this.demand(s, -a.slots);
    if (!run.preempting) this.usage(s, -a.slots);
    const touched: PoolState[] = [];
    for (const { ag, devices } of r.taken!) {
      const e = this.agents.get(ag.id)!;
      const before = ag.free.length;
      for (const d of devices) ag.free.splice(lowerBoundNum(ag.free, d), 0, d);
      const n = devices.length;
      if (run.preempting) {
        ag.exiting -= n;
        e.pool.exitingTotal -= n;
      } else {
        const i = ag.running.indexOf(run);
        if (i >= 0) ag.running.splice(i, 1);
        if (!ag.running.some((x) => x.alloc.groupId === a.groupId)) this.index(e.pool)?.removeHost(a.groupId, ag);
      }
      this.freeChanged(e, before);
      if (!touched.includes(e.pool)) touched.push(e.pool);
    }
    r.taken = undefined;
    if (!run.preempting && run.preemptible) for (const p of touched) this.victimCount(p, run.priority, -1);
    this.unshare(s);
  }

  /** Writes r's entry of the typed queue (see `Pass.queueSlots`). */
  private encode(r: Rec, slots: Int32Array, pools: Uint16Array, i: number): void {
    const pool = r.pool;
    const n = r.n;
    let v = 0;
    if (pool !== null && pool.enabledCount > 0 && n > 0 && Number.isInteger(n)) {
      if (n <= pool.largest) v = n;
      else if (n % pool.largest === 0 && n / pool.largest <= pool.largestCount) v = -(n / pool.largest);
    }
    slots[i] = v;
    pools[i] = v !== 0 ? this.poolOrd.get(pool!)! : 0;
  }

  /** Brings the sorted queue up to date with the pending allocations added and removed since the last pass. */
  updateQueue(): void {
    const old = this.pending;
    const removed = this.queueRemoved;
    if (removed.length === 0 && this.queueAdds.length === 0) return;
    // Where the removed ones are (found by the key they entered with), then where the added ones go; a changed
    // allocation may leave and come back with another key. Then one copy of the runs in between.
    const cut: number[] = [];
    for (const r of removed) {
      let i = lowerBoundKey(old, r);
      if (old[i] !== r) i = old.indexOf(r);
      if (i < 0) throw new Error('scheduler state: a queued allocation is missing from the queue');
      cut.push(i);
    }
    cut.sort((x, y) => x - y);
    // The added ones' keys: a changed allocation still has its old key in `old`, which must stay sorted.
    const adds = this.queueAdds.map((r) => ({ r, kp: priorityOf(r.a), ko: r.a.order, id: r.id }));
    adds.sort(cmpKey);
    const at = adds.map((x) => lowerBoundKey(old, x));
    // Written into the array of the pass before last (two arrays take turns: no large allocation a pass).
    const out = this.spareQueue;
    const len = old.length - cut.length + adds.length;
    out.length = len;
    if (this.spareSlots.length < len) {
      this.spareSlots = new Int32Array(len + (len >> 2) + 16);
      this.sparePool = new Uint16Array(this.spareSlots.length);
    }
    const oldSlots = this.queueSlots;
    const oldPool = this.queuePool;
    const outSlots = this.spareSlots;
    const outPool = this.sparePool;
    let i = 0;
    let k = 0;
    let c = 0;
    let d = 0;
    for (;;) {
      const nextCut = c < cut.length ? cut[c] : old.length;
      const nextAdd = d < adds.length ? at[d] : old.length;
      const stop = Math.min(nextCut, nextAdd);
      if (stop > i) {
        outSlots.set(oldSlots.subarray(i, stop), k);
        outPool.set(oldPool.subarray(i, stop), k);
      }
      while (i < stop) out[k++] = old[i++];
      if (d < adds.length && at[d] === i) {
        const x = adds[d++];
        x.r.kp = x.kp;
        x.r.ko = x.ko;
        this.encode(x.r, outSlots, outPool, k);
        out[k++] = x.r;
      } else if (c < cut.length && cut[c] === i) {
        i++;
        c++;
      } else if (i >= old.length) break;
    }
    this.spareQueue = old;
    this.pending = out;
    this.spareSlots = oldSlots;
    this.sparePool = oldPool;
    this.queueSlots = outSlots;
    this.queuePool = outPool;
    this.queueRemoved = [];
    this.queueAdds = [];
  }

  /** Entitlements of the pools whose demand changed; the victim index re-scores agents of groups whose changed. */
  updateEntitlements(): void {
    if (this.options.policy !== 'fair_share') return;
    for (const name of this.entDirty) {
      const m = this.shares.get(name);
      const k = this.kept.get(name);
      if (!m || !k) continue;
      for (const s of m.values()) {
        const max = this.anyMaxSlots ? this.groups.get(s.id)?.maxSlots : undefined;
        s.claim!.demand = max === undefined ? s.demand : Math.min(s.demand, max);
      }
      k.update(this.pools.get(name)?.capacity ?? 0);
      const f = this.fair.get(name);
      for (const s of m.values()) {
        const e = s.claim!.ent;
        if (e === s.ent) continue;
        s.ent = e;
        s.reasonUsage = -1;
        shareChanged(f, s);
      }
    }
    this.entDirty.clear();
  }

  /** One pass over the base state; everything it changes is undone before it returns. */
  run(reasons: boolean): ScheduleResult {
    const stamp = ++this.stamp;
    const saved = new Map<PoolState, ReturnType<PoolState['scalars']>>();
    for (const pool of this.pools.values()) {
      const list = pool.list;
      pool.buckets = pool.base!.map((bits) => {
        const c: AgentState[] = [];
        for (let w = 0; w < bits.length; w++) {
          for (let x = bits[w]; x !== 0; x &= x - 1) {
            const ag = list[(w << 5) | (31 - Math.clz32(x & -x))];
            ag.bucketPos = c.length;
            c.push(ag);
          }
        }
        return c;
      });
      pool.maxFree = pool.largest;
      pool.lowerMaxFree();
      pool.reservedBlockMax = 0;
      pool.reservedWhole = 0;
      pool.failedPreemptSize = Infinity;
      pool.reservingGangs = 0;
      pool.version++;
      pool.stamp = stamp;
      pool.journal = [];
      saved.set(pool, pool.scalars());
    }
    const pass: Pass = {
      opts: this.options,
      pools: this.pools,
      groups: this.groups,
      held: this.held,
      running: [],
      pending: this.pending,
      stamp,
      victimsTaken: [],
      heldUndo: new Map(),
      assign: [],
      preempt: [],
      waiting: [],
      reasons,
      queueSlots: this.queueSlots,
      queuePool: this.queuePool,
      poolList: this.poolList,
      trace: false,
      reference: false,
      considered: [],
      outcomes: new Map(),
      reason: '',
      claims: [],
      anyMaxSlots: this.anyMaxSlots,
    };
    // The victim indexes kept from the last pass put their base scores back after the undo (see beginPass).
    const indexes = [...this.fair.values()].flatMap((f) => (f.index ? [{ f, ix: f.index }] : []));
    for (const { ix } of indexes) ix.beginPass();
    try {
      if (this.options.policy === 'fair_share') runFairShare(pass, this.shares, this.fair);
      else runPriority(pass);
    } finally {
      this.undo(pass, saved);
      for (const { f, ix } of indexes) if (f.index === ix) ix.endPass();
    }
    return { assign: pass.assign, preempt: pass.preempt, waiting: pass.waiting };
  }

  private undo(pass: Pass, saved: Map<PoolState, ReturnType<PoolState['scalars']>>): void {
    for (const [pool, x] of saved) {
      const ix = this.index(pool);
      for (const ag of pool.journal!) {
        const b = ag.saved!;
        ag.free = b.free;
        ag.exiting = b.exiting;
        ag.reserved = b.reserved;
        ag.running = b.running;
        // Its group hosts need no repair: within a pass only victims leave `running`, after the index exists.
        ix?.agentChanged(ag);
      }
      pool.journal = undefined;
      pool.changed = undefined;
      pool.setScalars(x);
    }
    for (const r of pass.victimsTaken) r.preempting = false;
    for (const [g, v] of pass.heldUndo!) {
      if (v === undefined) this.held.delete(g);
      else this.held.set(g, v);
    }
    for (const [name, m] of this.shares) {
      const f = this.fair.get(name);
      for (const s of m.values()) {
        s.usage = s.baseUsage;
        s.next = 0;
        if (s.moved) {
          shareChanged(f, s);
          s.moved = false;
        }
      }
    }
  }

  /** A new record for `a`, at position `pos` of the current snapshot, matched by diff `seen`. */
  private newRec(a: Allocation, pos: number, seen: number): Rec {
    let num = this.freeNums.pop();
    if (num === undefined) {
      num = this.nextNum++;
      if (num >= this.posOf.length) {
        const grow = (x: Int32Array) => {
          const y = new Int32Array(x.length * 2);
          y.set(x);
          return y;
        };
        this.posOf = grow(this.posOf);
        this.seenOf = grow(this.seenOf);
      }
    }
    this.posOf[num] = pos;
    this.seenOf[num] = seen;
    return { id: a.id, a, num, mark: 0, n: 0, pool: null, share: undefined, w: undefined, wr: undefined, kp: 0, ko: 0, run: undefined, taken: undefined };
  }

  /** Applies the snapshot's allocations to the state (throws `Irregular` when it cannot exactly). */
  diff(allocations: Allocation[]): void {
    const stamp = ++this.stamp;
    const n = allocations.length;
    const old = this.recs;
    const oldA = this.recA;
    const oldNum = this.recNum;
    const recs = this.spareRecs;
    const recA = this.spareA;
    recs.length = n;
    recA.length = n;
    if (this.spareNum.length < n) this.spareNum = new Int32Array(Math.max(n, 2 * this.spareNum.length));
    const recNum = this.spareNum;
    let { posOf, seenOf } = this;
    const changed: Rec[] = [];
    const added: Rec[] = [];
    let j = 0;
    let lastPos = -1;
    for (let i = 0; i < n; i++) {
      const a = allocations[i];
      if (j < old.length && oldA[j] === a) {
        // The same object as at the next position of the last snapshot: the same allocation, unchanged
        // (allocations are never changed in place). Neither it nor its record is read.
        const num = oldNum[j];
        recs[i] = old[j];
        recA[i] = a;
        recNum[i] = num;
        posOf[num] = i;
        seenOf[num] = stamp;
        lastPos = j++;
        continue;
      }
      const o = old[j];
      const r = o !== undefined && o.id === a.id ? o : this.byId.get(a.id);
      if (r === undefined || seenOf[r.num] === stamp) {
        if (r !== undefined) throw new Irregular('duplicate allocation id');
        const fresh = this.newRec(a, i, stamp);
        ({ posOf, seenOf } = this); // newRec may have grown them
        recs[i] = fresh;
        recA[i] = a;
        recNum[i] = fresh.num;
        added.push(fresh);
        continue;
      }
      const was = posOf[r.num];
      if (was < lastPos) throw new Irregular('allocations in another order');
      lastPos = was;
      j = was + 1;
      seenOf[r.num] = stamp;
      posOf[r.num] = i;
      recs[i] = r;
      recA[i] = a;
      recNum[i] = r.num;
      if (r.a !== a) {
        if (sameAllocation(r.a, a)) r.a = a;
        else {
          this.remove(r);
          r.a = a;
          changed.push(r);
        }
      }
    }
    for (let k = 0; k < old.length; k++) {
      if (seenOf[oldNum[k]] === stamp) continue;
      const r = old[k];
      this.remove(r);
      this.byId.delete(r.id);
      this.freeNums.push(r.num);
    }
    this.spareRecs = old;
    this.spareA = oldA;
    this.spareNum = oldNum;
    this.recs = recs;
    this.recA = recA;
    this.recNum = recNum;
    for (const r of added) this.byId.set(r.id, r);
    // Additions in snapshot order, as a fresh pass takes them.
    const adds = changed.length === 0 ? added : [...changed, ...added].sort((x, y) => posOf[x.num] - posOf[y.num]);
    for (const r of adds) this.add(r);
  }

  /** Builds the state of a snapshot (its allocations, on a fresh state). */
  build(allocations: Allocation[]): void {
    this.recNum = new Int32Array(allocations.length);
    for (let i = 0; i < allocations.length; i++) {
      const a = allocations[i];
      if (this.byId.has(a.id)) throw new Irregular('duplicate allocation id');
      const r = this.newRec(a, i, 0);
      this.recs.push(r);
      this.recA.push(a);
      this.recNum[i] = r.num;
      this.byId.set(a.id, r);
      this.add(r);
    }
    this.finishBuild();
  }
}

const setKey = (r: Rec): void => {
  r.kp = priorityOf(r.a);
  r.ko = r.a.order;
};

type Key = Pick<Rec, 'kp' | 'ko' | 'id'>;

/** The queue's order by the keys allocations entered it with (the same order as `compareAllocations`). */
const cmpKey = (x: Key, y: Key): number => x.kp - y.kp || x.ko - y.ko || byId(x.id, y.id);

/** First index in the queue whose key is not before r's. */
function lowerBoundKey(list: Rec[], r: Key): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmpKey(list[mid], r) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBoundNum(list: number[], d: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < d) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in the sorted `list` whose element comes after `r` in scheduling order. */
function upperBound(list: PRec[], r: PRec): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareRecs(list[mid], r) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function samePlacement(x: Allocation['placement'], y: Allocation['placement']): boolean {
  if (x === y) return true;
  if (!x || !y || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const p = x[i];
    const q = y[i];
    if (p.agentId !== q.agentId || p.devices.length !== q.devices.length) return false;
    for (let k = 0; k < p.devices.length; k++) if (p.devices[k] !== q.devices[k]) return false;
  }
  return true;
}

/** Whether two versions of an allocation schedule the same (every field a pass reads). */
function sameAllocation(x: Allocation, y: Allocation): boolean {
  if (x.state !== y.state || x.slots !== y.slots || x.order !== y.order || x.priority !== y.priority || x.groupId !== y.groupId || x.pool !== y.pool) return false;
  if (x.weight !== y.weight || x.preemptible !== y.preemptible) return false;
  if (x.state !== 'running') return true;
  return (x.preempting ?? false) === (y.preempting ?? false) && samePlacement(x.placement, y.placement);
}

function sameAgents(x: Agent[], y: Agent[]): boolean {
  if (x === y) return true;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const a = x[i];
    const b = y[i];
    if (a === b) continue;
    if (a.id !== b.id || a.pool !== b.pool || a.enabled !== b.enabled || a.slots.length !== b.slots.length) return false;
    for (let k = 0; k < a.slots.length; k++) if (a.slots[k] !== b.slots[k]) return false;
  }
  return true;
}

const sameOptions = (x: ScheduleOptions, y: ScheduleOptions): boolean =>
  x === y || (x.policy === y.policy && x.fit === y.fit && x.preemption === y.preemption && x.reservationDepth === y.reservationDepth);

/**
 * Brings the state's groups up to date with the snapshot's; false when that needs a new state. Groups come and go
 * with experiments (the master lists those with live allocations): that is handled; a group whose weight or
 * max_slots changed, one that appears or goes while work of it is there (its weight was or becomes a fallback),
 * or max_slots appearing or going altogether rebuild the state.
 */
function updateGroups(st: State, groups: Group[], last: Group[]): boolean {
  if (groups === last) return true;
  if (groups.length === st.groups.size) {
    // The master lists them afresh every pass, mostly the same ones (in an order that changes as work comes and
    // goes): the same when each is there with the same values.
    const stamp = ++st.groupStamp;
    let same = true;
    for (let i = 0; i < groups.length && same; i++) {
      const g = groups[i];
      const e = st.groupSeen.get(g.id);
      // Each once: a list with an id twice leaves another out.
      same = e !== undefined && e.seen !== stamp && (g === e.group || (g.weight === e.group.weight && g.maxSlots === e.group.maxSlots));
      if (same) e!.seen = stamp;
    }
    if (same) return true;
  }
  const now = new Map(groups.map((g) => [g.id, g]));
  if (groups.some((g) => g.maxSlots !== undefined) !== st.anyMaxSlots) return false;
  const hasWork = (id: string) => [...st.shares.values()].some((m) => m.has(id));
  for (const [id, g] of now) {
    const h = st.groups.get(id);
    if (h ? h.weight !== g.weight || h.maxSlots !== g.maxSlots : hasWork(id)) return false;
  }
  const gone: string[] = [];
  for (const id of st.groups.keys()) if (!now.has(id)) gone.push(id);
  if (gone.some(hasWork)) return false;
  for (const id of gone) {
    st.groups.delete(id);
    st.groupSeen.delete(id);
  }
  for (const [id, g] of now) {
    if (st.groups.has(id)) continue;
    st.groups.set(id, g);
    st.groupSeen.set(id, { group: g, seen: 0 });
  }
  return true;
}

/** After a snapshot the state cannot follow, this many passes run from scratch before it is built again (a build
 * that fails again would cost as much as the pass). */
const COOLDOWN = 8;

/**
 * A scheduler that keeps its state between passes: `schedule(snapshot)` decides exactly as the pure
 * `schedule(snapshot)` of schedule.ts, for any sequence of snapshots, at the cost of what changed since the last
 * one (plus a walk over the snapshot and the queue). The master holds one per resource manager. Treat the results
 * as read-only: entries of `waiting` are shared with the next result when they say the same.
 */
export class IncrementalScheduler {
  private st: State | undefined;
  /** Counts passes (see `scheduleIncremental`). */
  generation = 0;
  private lastGroups: Group[] = [];
  private last: ScheduleResult | undefined;
  /** Passes left to run from scratch before building a state again (see `schedule`). */
  private cooldown = 0;
  /** Passes answered from kept state, and rebuilds of it (for tests and the benchmark). */
  readonly stats = { incremental: 0, rebuilt: 0, fromScratch: 0 };
  private readonly reasons: boolean;

  /** `reasons: false`: results leave `waiting` empty (see `PassOptions`); the master's pass only needs decisions. */
  constructor(opts: PassOptions = {}) {
    this.reasons = opts.reasons ?? true;
  }

  schedule(snapshot: Snapshot): ScheduleResult {
    this.generation++;
    if (this.cooldown > 0) {
      // The last snapshots could not be followed: from scratch for a few passes before trying to build again.
      this.cooldown--;
      this.stats.fromScratch++;
      return (this.last = schedule(snapshot, { reasons: this.reasons }));
    }
    let st = this.st;
    try {
      if (st && sameOptions(st.options, snapshot.options) && sameAgents(st.snapshotAgents, snapshot.agents) && updateGroups(st, snapshot.groups, this.lastGroups)) {
        st.diff(snapshot.allocations);
        this.stats.incremental++;
      } else {
        this.st = undefined;
        st = new State(snapshot.agents, snapshot.options, snapshot.groups);
        st.build(snapshot.allocations);
        this.stats.rebuilt++;
      }
      this.st = st;
      this.lastGroups = snapshot.groups;
      st.updateQueue();
      st.updateEntitlements();
      this.last = st.run(this.reasons);
    } catch (e) {
      if (!(e instanceof Irregular)) throw e;
      // Not handled incrementally (see the top of this file): a pass from scratch, and a new state next time.
      this.st = undefined;
      this.stats.fromScratch++;
      this.cooldown = COOLDOWN;
      this.last = schedule(snapshot, { reasons: this.reasons });
    }
    return this.last;
  }
}

/** What `scheduleIncremental` carries from one pass to the next. Use each memo once: the scheduler it names moves
 * on with the next pass, so an older memo starts afresh (still deciding exactly as `schedule`). */
export interface ScheduleMemo {
  readonly scheduler: IncrementalScheduler;
  readonly generation: number;
}

/** `IncrementalScheduler` as a function: the same result as `schedule(snapshot)`, from the previous pass's memo. */
export function scheduleIncremental(snapshot: Snapshot, memo?: ScheduleMemo): { result: ScheduleResult; memo: ScheduleMemo } {
  const scheduler = memo && memo.generation === memo.scheduler.generation ? memo.scheduler : new IncrementalScheduler();
  const result = scheduler.schedule(snapshot);
  return { result, memo: { scheduler, generation: scheduler.generation } };
}
