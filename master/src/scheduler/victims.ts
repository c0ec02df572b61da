// Preemption victim search: which running allocations a blocked gang preempts, and on which agent(s).
//
// `planPreemption` is the straightforward search (every agent of the pool, every time). `VictimIndex` gives the
// same answer without the scan, for the fair-share policy where a pass may search once per group: per gang size it
// keeps a segment tree over the pool's agents (in id order) of each agent's plan score, for a blocked gang of no
// group in particular. Only the agents that hold work of the searching group (whose own work is never a victim) are
// searched directly. Whatever changes an agent's plan (free or exiting slots, its running work, the usage of a group
// with work on it) marks the agent dirty; dirty agents are re-scored before the next search. The property tests
// check that both searches decide the same.
import type { AgentState, PoolState, RunningState } from './pool';
import type { Allocation } from './types';

/** Whether `r` may be preempted for `a`, given the victims already picked for it. */
export type VictimTest = (r: RunningState, taken: readonly RunningState[], a: Allocation) => boolean;

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Least valuable victims first: highest priority number, then newest, then id. */
export function victimOrder(a: RunningState, b: RunningState): number {
  return b.priority - a.priority || b.alloc.order - a.alloc.order || byId(b.alloc.id, a.alloc.id);
}

export type Score = [number, number, number];

/** Fewer victims, then victims whose most important one is least important, then newer victims. */
export function score(victims: readonly RunningState[]): Score {
  let minPriority = Infinity;
  let minOrder = Infinity;
  for (const v of victims) {
    minPriority = Math.min(minPriority, v.priority);
    minOrder = Math.min(minOrder, v.alloc.order);
  }
  return victims.length === 0 ? [0, 0, 0] : [victims.length, -minPriority, -minOrder];
}

export const better = (a: Score, b: Score) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** The preemptible running work of an agent, least valuable first: the order victims are picked in. */
export const candidates = (ag: AgentState): RunningState[] => ag.running.filter((r) => r.preemptible).sort(victimOrder);

/** Victims among `cands` (from `candidates`) on one agent that free at least `need` devices there, or undefined. */
export function pickFrom(ag: AgentState, cands: readonly RunningState[], need: number, a: Allocation, victim: VictimTest): RunningState[] | undefined {
  const taken: RunningState[] = [];
  let freed = 0;
  for (const r of cands) {
    if (freed >= need) break;
    if (!victim(r, taken, a)) continue;
    taken.push(r);
    freed += r.devicesOn.get(ag)!;
  }
  if (freed < need) return undefined;
  return dropUnneeded(ag, taken, freed, need);
}

/** Drops victims that turned out unnecessary, the most valuable first. */
function dropUnneeded(ag: AgentState, taken: RunningState[], freed: number, need: number): RunningState[] {
  for (let i = taken.length - 1; i >= 0; i--) {
    const d = taken[i].devicesOn.get(ag)!;
    if (freed - d >= need) {
      freed -= d;
      taken.splice(i, 1);
    }
  }
  return taken;
}

/** Victims on one agent that free at least `need` devices there, or undefined. */
export function pickVictims(ag: AgentState, need: number, a: Allocation, victim: VictimTest): RunningState[] | undefined {
  return pickFrom(ag, candidates(ag), need, a, victim);
}

export interface Plan {
  targets: AgentState[];
  victims: RunningState[];
}

/** Whether every running allocation of a whole agent may be preempted for `a` (each on its own). */
const allVictims = (ag: AgentState, a: Allocation, victim: VictimTest): boolean =>
  !ag.running.some((r) => !r.preemptible || !victim(r, [], a));

/** Picks `k` whole agents from candidates in plan order, keeping only those whose victims are still allowed
 * together with the victims already picked. */
function pickWhole(next: () => AgentState | undefined, k: number, a: Allocation, victim: VictimTest): Plan | undefined {
  const targets: AgentState[] = [];
  const taken = new Set<RunningState>();
  for (let ag = next(); ag && targets.length < k; ag = targets.length < k ? next() : undefined) {
    const fresh = ag.running.filter((r) => !taken.has(r));
    const list = [...taken];
    let ok = true;
    for (const r of fresh) {
      if (!victim(r, list, a)) {
        ok = false;
        break;
      }
      list.push(r);
    }
    if (!ok) continue;
    targets.push(ag);
    for (const r of fresh) taken.add(r);
  }
  if (targets.length < k) return undefined;
  return { targets, victims: [...taken] };
}

/**
 * The straightforward search. A gang of n <= S slots: the agent (first in id order) where it needs the fewest,
 * least valuable victims, counting free and exiting devices. A larger gang: whole agents whose work may all be
 * preempted, best first.
 */
export function planPreemption(pool: PoolState, a: Allocation, victim: VictimTest): Plan | undefined {
  const n = a.slots;
  if (n <= pool.largest) {
    let best: { ag: AgentState; victims: RunningState[]; score: Score } | undefined;
    for (const ag of pool.list) {
      if (!ag.enabled || ag.size < n) continue;
      const have = ag.free.length + ag.exiting;
      const victims = have >= n ? [] : pickVictims(ag, n - have, a, victim);
      if (!victims) continue;
      const s = score(victims);
      if (!best || better(s, best.score) < 0) best = { ag, victims, score: s };
      if (victims.length === 0) break;
    }
    return best && { targets: [best.ag], victims: best.victims };
  }
  const cands: Array<{ ag: AgentState; score: Score }> = [];
  for (const ag of pool.list) {
    if (!ag.enabled || ag.size !== pool.largest || !allVictims(ag, a, victim)) continue;
    cands.push({ ag, score: score(ag.running) });
  }
  cands.sort((x, y) => better(x.score, y.score));
  let i = 0;
  return pickWhole(() => cands[i++]?.ag, n / pool.largest, a, victim);
}

/** Segment tree over leaves 0..n-1 holding a score each (count Infinity: none); answers the least (score, leaf). */
class ScoreTree {
  private readonly size: number;
  private readonly node: Int32Array;
  readonly c: Float64Array;
  readonly p: Float64Array;
  readonly o: Float64Array;

  constructor(n: number) {
    let size = 1;
    while (size < n) size <<= 1;
    this.size = size;
    this.node = new Int32Array(2 * size).fill(-1);
    this.c = new Float64Array(n).fill(Infinity);
    this.p = new Float64Array(n);
    this.o = new Float64Array(n);
  }

  private less(i: number, j: number): boolean {
    const c = this.c;
    if (i < 0 || c[i] === Infinity) return false;
    if (j < 0 || c[j] === Infinity) return true;
    const d = c[i] - c[j] || this.p[i] - this.p[j] || this.o[i] - this.o[j];
    return d !== 0 ? d < 0 : i < j;
  }

  /** Sets leaf i (no rebalancing of the path: call `fix` after); false when it holds that score already. */
  setLeaf(i: number, s: Score | undefined): boolean {
    const c = this.c;
    this.node[this.size + i] = i;
    if (!s) {
      if (c[i] === Infinity) return false;
      c[i] = Infinity;
      return true;
    }
    if (c[i] === s[0] && this.p[i] === s[1] && this.o[i] === s[2]) return false;
    c[i] = s[0];
    this.p[i] = s[1];
    this.o[i] = s[2];
    return true;
  }

  fix(i: number): void {
    for (let k = (this.size + i) >> 1; k >= 1; k >>= 1) {
      const l = this.node[2 * k];
      const r = this.node[2 * k + 1];
      this.node[k] = this.less(r, l) ? r : l;
    }
  }

  buildAll(): void {
    for (let k = this.size - 1; k >= 1; k--) {
      const l = this.node[2 * k];
      const r = this.node[2 * k + 1];
      this.node[k] = this.less(r, l) ? r : l;
    }
  }

  /** The leaf with the least score, or -1 when every leaf is empty. */
  min(): number {
    const i = this.node[1];
    return i >= 0 && this.c[i] !== Infinity ? i : -1;
  }

  score(i: number): Score {
    return [this.c[i], this.p[i], this.o[i]];
  }

  /** What leaf i holds (undefined: empty). */
  leaf(i: number): Score | undefined {
    return this.c[i] === Infinity ? undefined : this.score(i);
  }

  /** Empties leaf i until `restore`; returns what it held. */
  hide(i: number): Score | undefined {
    const s = this.leaf(i);
    this.c[i] = Infinity;
    this.fix(i);
    return s;
  }

  restore(i: number, s: Score | undefined): void {
    if (!s) return;
    this.c[i] = s[0];
    this.p[i] = s[1];
    this.o[i] = s[2];
    this.fix(i);
  }
}

const cmp = (s: Score, i: number, t: Score, j: number): number => better(s, t) || i - j;

/** The fair-share victim search of one pool during one pass, indexed (see the top of this file). */
export class VictimIndex {
  private readonly list: AgentState[];
  /** trees[n] for a gang of n <= S slots; trees[0] for gangs of whole agents. */
  private readonly trees: ScoreTree[];
  /** Agents (positions in the pool's list) with running work of each group; a superset once victims leave. */
  private readonly hosts = new Map<string, number[]>();
  private readonly dirty: Uint8Array;
  private readonly dirtyList: number[] = [];
  private readonly cands: RunningState[][];
  /** During an incremental pass (`beginPass`): the scores and candidates each re-scored agent had before it. */
  private passSaved: Map<number, { leaves: Array<Score | undefined>; cands: RunningState[] }> | undefined;
  /** An allocation of no group with work in the pool: the searches the trees hold are for it. */
  private readonly nobody: Allocation;
  /** The fewest slots of any running allocation the index has seen on an agent (see `shareChanged`). */
  floor = Infinity;

  constructor(
    private readonly pool: PoolState,
    private readonly victim: VictimTest,
  ) {
    this.list = pool.list;
    const n = this.list.length;
    this.dirty = new Uint8Array(n);
    this.cands = new Array<RunningState[]>(n);
    for (let i = 0; i < n; i++) {
      const ag = this.list[i];
      for (const r of ag.running) {
        if (r.alloc.slots < this.floor) this.floor = r.alloc.slots;
        const h = this.hosts.get(r.alloc.groupId);
        if (!h) this.hosts.set(r.alloc.groupId, [i]);
        else if (h[h.length - 1] !== i) h.push(i);
      }
    }
    let g = '\u0000';
    while (this.hosts.has(g)) g += '\u0000';
    this.nobody = { id: g, groupId: g, pool: pool.name, slots: 0, order: 0, state: 'pending' };
    this.trees = Array.from({ length: pool.largest + 1 }, () => new ScoreTree(n));
    for (let i = 0; i < n; i++) this.rescore(i, false);
    for (const t of this.trees) t.buildAll();
  }

  /** Running work of the group now runs on the agent (incremental scheduler, between passes). False when the index
   * cannot take it (the group's id is the one the index uses for no group): build a new index then. */
  addHost(r: RunningState, ag: AgentState): boolean {
    const groupId = r.alloc.groupId;
    if (groupId === this.nobody.groupId) return false;
    if (r.alloc.slots < this.floor) this.floor = r.alloc.slots;
    const h = this.hosts.get(groupId);
    if (!h) this.hosts.set(groupId, [ag.pos]);
    else if (!h.includes(ag.pos)) h.push(ag.pos);
    return true;
  }

  /** No running work of the group is left on the agent (incremental scheduler, between passes). */
  removeHost(groupId: string, ag: AgentState): void {
    const h = this.hosts.get(groupId);
    if (!h) return;
    const i = h.indexOf(ag.pos);
    if (i < 0) return;
    h[i] = h[h.length - 1];
    h.pop();
    if (h.length === 0) this.hosts.delete(groupId);
  }

  /** The agent's free, exiting or running devices changed. */
  agentChanged(ag: AgentState): void {
    const i = ag.pos;
    if (this.list[i] !== ag || this.dirty[i]) return;
    this.dirty[i] = 1;
    this.dirtyList.push(i);
  }

  /** The group's usage changed: whether its work may be preempted may have too. */
  groupChanged(groupId: string): void {
    const h = this.hosts.get(groupId);
    if (h) for (const i of h) this.agentChanged(this.list[i]);
  }

  /** Re-scores agent i in every tree; with `fix`, re-balances the trees whose leaf changed (an agent often comes
   * back to the scores it had: its pass's changes undone, a group's usage moving without crossing its entitlement). */
  private rescore(i: number, fix: boolean): void {
    if (this.passSaved && !this.passSaved.has(i)) this.passSaved.set(i, { leaves: this.trees.map((t) => t.leaf(i)), cands: this.cands[i] });
    const set = (t: ScoreTree, s: Score | undefined) => {
      if (t.setLeaf(i, s) && fix) t.fix(i);
    };
    const ag = this.list[i];
    const cands = (this.cands[i] = candidates(ag));
    const have = ag.free.length + ag.exiting;
    const top = Math.min(ag.size, this.trees.length - 1);
    // `pickFrom` for every gang size at once: its greedy picks for a smaller need are a prefix of those for a
    // larger one (each test sees the same victims picked before it), so pick once for the largest need and, per
    // size, keep the shortest prefix that frees enough, then drop what it does not need as `pickFrom` does.
    const picked: RunningState[] = [];
    const freedAt: number[] = [];
    if (ag.enabled && top > have) {
      let freed = 0;
      for (const r of cands) {
        if (freed >= top - have) break;
        if (!this.victim(r, picked, this.nobody)) continue;
        picked.push(r);
        freed += r.devicesOn.get(ag)!;
        freedAt.push(freed);
      }
    }
    let k = 0;
    for (let n = 1; n < this.trees.length; n++) {
      let s: Score | undefined;
      if (ag.enabled && ag.size >= n) {
        if (have >= n) s = [0, 0, 0];
        else {
          const need = n - have;
          while (k < freedAt.length && freedAt[k] < need) k++;
          if (k < freedAt.length) s = score(dropUnneeded(ag, picked.slice(0, k + 1), freedAt[k], need));
        }
      }
      set(this.trees[n], s);
    }
    const whole = ag.enabled && ag.size === this.pool.largest && allVictims(ag, this.nobody, this.victim);
    set(this.trees[0], whole ? score(ag.running) : undefined);
  }

  /**
   * The incremental scheduler's pass starts: the index is brought up to date with the base state, and what the
   * pass re-scores is remembered, so that `endPass` (once the pass's changes are undone) puts the base state's
   * scores back instead of leaving those agents to be re-scored by the next pass.
   */
  beginPass(): void {
    this.flush();
    this.passSaved = new Map();
  }

  /** After the pass's changes are undone: the index is as `beginPass` found it. */
  endPass(): void {
    const saved = this.passSaved;
    if (!saved) return;
    this.passSaved = undefined;
    for (const [i, { leaves, cands }] of saved) {
      this.trees.forEach((t, n) => {
        if (t.setLeaf(i, leaves[n])) t.fix(i);
      });
      this.cands[i] = cands;
    }
    // What the undo marked changed is back as it was; what the pass marked and never re-scored kept its scores.
    for (const i of this.dirtyList) this.dirty[i] = 0;
    this.dirtyList.length = 0;
  }

  private flush(): void {
    for (const i of this.dirtyList) {
      this.dirty[i] = 0;
      this.rescore(i, true);
    }
    this.dirtyList.length = 0;
  }

  /**
   * The same plan as `planPreemption(pool, a, victim)`. `ownNeverVictims`: the caller knows that no running work
   * of a's group passes the victim test for an allocation of another group either (its group is far enough below
   * its entitlement): then the trees' scores, for no group in particular, are a's own, and its group's agents need
   * no search of their own.
   */
  plan(a: Allocation, ownNeverVictims = false): Plan | undefined {
    this.flush();
    const n = a.slots;
    const mine = ownNeverVictims ? [] : (this.hosts.get(a.groupId) ?? []);
    if (n <= this.pool.largest) {
      // A gang of 0 slots never searches (it fits whenever an agent is enabled); keep the reference for safety.
      if (n < 1) return planPreemption(this.pool, a, this.victim);
      const tree = this.trees[n];
      // The best agent of no group in particular, the group's own agents left out (hidden only when the best of
      // all is one of them).
      let t = tree.min();
      if (t >= 0 && mine.includes(t)) {
        const hidden = mine.map((i) => tree.hide(i));
        t = tree.min();
        mine.forEach((i, k) => tree.restore(i, hidden[k]));
      }
      const ts = t >= 0 ? tree.score(t) : undefined;
      let best: { i: number; s: Score; victims?: RunningState[] } | undefined = t >= 0 ? { i: t, s: ts! } : undefined;
      for (const i of mine) {
        const ag = this.list[i];
        if (!ag.enabled || ag.size < n) continue;
        const have = ag.free.length + ag.exiting;
        const victims = have >= n ? [] : pickFrom(ag, this.cands[i], n - have, a, this.victim);
        if (!victims) continue;
        const s = score(victims);
        if (!best || cmp(s, i, best.s, best.i) < 0) best = { i, s, victims };
      }
      if (!best) return undefined;
      const ag = this.list[best.i];
      let victims = best.victims;
      if (!victims) {
        const have = ag.free.length + ag.exiting;
        victims = have >= n ? [] : pickFrom(ag, this.cands[best.i], n - have, this.nobody, this.victim)!;
      }
      return { targets: [ag], victims };
    }
    // Whole agents: candidates in (score, id) order, from the tree (the group's hosts hidden as they come up)
    // merged with the group's hosts that qualify for `a`.
    const tree = this.trees[0];
    const own: Array<{ i: number; s: Score }> = [];
    for (const i of mine) {
      const ag = this.list[i];
      if (ag.enabled && ag.size === this.pool.largest && allVictims(ag, a, this.victim)) own.push({ i, s: score(ag.running) });
    }
    own.sort((x, y) => cmp(x.s, x.i, y.s, y.i));
    const popped: Array<{ i: number; s: Score | undefined }> = [];
    let k = 0;
    const next = (): AgentState | undefined => {
      let t = tree.min();
      while (t >= 0 && mine.includes(t)) {
        popped.push({ i: t, s: tree.hide(t) });
        t = tree.min();
      }
      const o = own[k];
      if (t < 0 && !o) return undefined;
      if (t >= 0 && (!o || cmp(tree.score(t), t, o.s, o.i) < 0)) {
        popped.push({ i: t, s: tree.hide(t) });
        return this.list[t];
      }
      k++;
      return this.list[o.i];
    };
    const plan = pickWhole(next, n / this.pool.largest, a, this.victim);
    for (let j = popped.length - 1; j >= 0; j--) tree.restore(popped[j].i, popped[j].s);
    return plan;
  }
}
