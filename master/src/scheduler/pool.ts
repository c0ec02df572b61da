// Mutable per-pass state of one resource pool: agents bucketed by free slot count, so finding an agent for a gang
// costs O(largest agent size) instead of a scan over every agent. Internal to the scheduler.
import type { Allocation } from './types';
import type { PoolShape } from './fit';

/** A running allocation as the pass tracks it. */
export interface RunningState {
  alloc: Allocation;
  priority: number;
  preemptible: boolean;
  /** Already asked to preempt (in the snapshot, or by this pass). */
  preempting: boolean;
  /** Devices it holds on each agent. */
  devicesOn: Map<AgentState, number>;
  /** Its record (incremental scheduler: its position, by `num`, orders each agent's `running` as a fresh pass does). */
  rec?: { num: number };
}

export interface AgentState {
  id: string;
  size: number;
  enabled: boolean;
  /** Free, unreserved device ids, ascending. */
  free: number[];
  /** Devices of preempting allocations on this agent not yet claimed by a waiting gang. */
  exiting: number;
  /** Devices held back this pass for a blocked gang. */
  reserved: number;
  /** Running allocations with devices on this agent, not preempting. */
  running: RunningState[];
  /** Index in `buckets[free.length]`, -1 when not bucketed (disabled). */
  bucketPos: number;
  /** Position in its pool's `list` (id order). */
  pos: number;
  /** The agent's state before the current pass first changed it (see `PoolState.journal`). */
  saved?: { stamp: number; free: number[]; exiting: number; reserved: number; running: RunningState[] };
}

/** The pool's per-pass scalars, saved before a pass of the incremental scheduler and restored after it. */
type Scalars = Pick<
  PoolState,
  'maxFree' | 'totalFree' | 'reservedBlockMax' | 'reservedWhole' | 'exitingTotal' | 'victims' | 'maxVictimPriority' | 'failedPreemptSize' | 'reservingGangs'
>;

export class PoolState implements PoolShape {
  agents = 0;
  largest = 0;
  largestCount = 0;
  /** Agents sorted by id. */
  readonly list: AgentState[] = [];
  enabledCount = 0;
  /** Total slots of enabled agents: what fair share divides. */
  capacity = 0;
  /** buckets[k] = enabled agents with exactly k free unreserved slots. */
  buckets: AgentState[][] = [];
  /** Highest k with a non-empty bucket. Only decreases during a pass. */
  maxFree = 0;
  totalFree = 0;
  /** Largest free+reserved on an agent that holds a reservation: a blocked gang up to this size is "behind" others. */
  reservedBlockMax = 0;
  /** Whole largest-size agents held by reservations. */
  reservedWhole = 0;
  /** Devices of preempting allocations not yet claimed. */
  exitingTotal = 0;
  /** Running, preemptible, not preempting allocations of the pool. */
  victims = 0;
  /** Highest priority number among them (the least important one). */
  maxVictimPriority = -Infinity;
  /** Smallest gang size whose victim search failed since the last preemption (priority policy only). */
  failedPreemptSize = Infinity;

  /** Blocked gangs that reserved slots this pass (bounded by the reservation depth). */
  reservingGangs = 0;
  /** Bumped whenever free or reserved slots change; keys the cache of waiting reasons. */
  version = 0;
  reasonVersion = -1;
  reasonBehind = '';
  readonly reasonCache = new Map<number, string>();
  /** The same for whole sizes below 64 (the common case, without a map lookup). */
  readonly reasonBySize: Array<string | undefined> = new Array<string | undefined>(64).fill(undefined);

  constructor(readonly name: string) {}

  /** Told whenever an agent's free slots change (the fair-share victim index listens). */
  changed?: (a: AgentState) => void;

  /** Incremental scheduler: the buckets between passes, each a bit set over agents' `pos` (so moving an agent
   * between buckets costs two bit flips, and walking a set's bits lists the bucket in id order). */
  base?: Uint32Array[];

  /** Agents changed by the current pass, each with its state before (incremental scheduler only; see `changing`). */
  journal?: AgentState[];
  /** Identifies the current pass in `AgentState.saved`. */
  stamp = 0;

  /** Call before changing an agent's free, exiting, reserved or running state during a pass. */
  changing(a: AgentState): void {
    const j = this.journal;
    if (j && a.saved?.stamp !== this.stamp) {
      a.saved = { stamp: this.stamp, free: a.free.slice(), exiting: a.exiting, reserved: a.reserved, running: a.running.slice() };
      j.push(a);
    }
    this.changed?.(a);
  }

  scalars(): Scalars {
    const { maxFree, totalFree, reservedBlockMax, reservedWhole, exitingTotal, victims, maxVictimPriority, failedPreemptSize, reservingGangs } = this;
    return { maxFree, totalFree, reservedBlockMax, reservedWhole, exitingTotal, victims, maxVictimPriority, failedPreemptSize, reservingGangs };
  }

  setScalars(x: Scalars): void {
    Object.assign(this, x);
  }

  addAgent(a: AgentState): void {
    a.pos = this.list.length;
    this.list.push(a);
    this.agents++;
    if (a.size > this.largest) {
      this.largest = a.size;
      this.largestCount = 1;
    } else if (a.size === this.largest) {
      this.largestCount++;
    }
    if (a.enabled) {
      this.enabledCount++;
      this.capacity += a.size;
    }
  }

  /** Call once all agents are added and running allocations have taken their devices. */
  index(): void {
    this.buckets = Array.from({ length: this.largest + 1 }, () => []);
    for (const a of this.list) {
      if (!a.enabled) continue;
      this.bucketAdd(a);
      this.totalFree += a.free.length;
    }
    this.maxFree = this.largest;
    this.lowerMaxFree();
  }

  private bucketAdd(a: AgentState): void {
    const b = this.buckets[a.free.length];
    a.bucketPos = b.length;
    b.push(a);
  }

  private bucketRemove(a: AgentState): void {
    const b = this.buckets[a.free.length];
    const last = b.pop()!;
    if (last !== a) {
      b[a.bucketPos] = last;
      last.bucketPos = a.bucketPos;
    }
    a.bucketPos = -1;
  }

  lowerMaxFree(): void {
    while (this.maxFree > 0 && this.buckets[this.maxFree].length === 0) this.maxFree--;
  }

  /** Remove the `n` lowest free devices of an enabled agent and return them. */
  takeFree(a: AgentState, n: number): number[] {
    if (n === 0) return [];
    this.version++;
    this.changing(a);
    this.bucketRemove(a);
    const devices = a.free.splice(0, n);
    this.bucketAdd(a);
    this.totalFree -= n;
    this.lowerMaxFree();
    return devices;
  }

  /** Hold back `n` free devices of `a` for a blocked gang so that lower-ranked work cannot take them. */
  reserveFree(a: AgentState, n: number): void {
    this.takeFree(a, n);
    a.reserved += n;
    const block = a.reserved + a.free.length;
    if (block > this.reservedBlockMax) this.reservedBlockMax = block;
    if (a.size === this.largest && block === a.size) this.reservedWhole++;
  }

  /** One agent with at least n free slots (1 <= n <= largest), chosen by the fit policy, or undefined. */
  findOne(n: number, fit: 'best' | 'worst'): AgentState | undefined {
    if (n > this.maxFree) return undefined;
    if (fit === 'best') {
      for (let k = n; k <= this.maxFree; k++) {
        const b = this.buckets[k];
        if (b.length > 0) return b[b.length - 1];
      }
    } else {
      const b = this.buckets[this.maxFree];
      if (b.length > 0) return b[b.length - 1];
    }
    return undefined;
  }

  /** k entirely free agents of the largest size, or undefined. */
  findWhole(k: number): AgentState[] | undefined {
    const b = this.buckets[this.largest];
    if (b.length < k) return undefined;
    return b.slice(b.length - k);
  }

  /** The agent of size >= `minSize` with the most free slots (at least one), or undefined. */
  mostFreeOne(minSize: number): AgentState | undefined {
    for (let f = this.maxFree; f >= 1; f--) {
      const b = this.buckets[f];
      for (let i = b.length - 1; i >= 0; i--) if (b[i].size >= minSize) return b[i];
    }
    return undefined;
  }

  /** Up to `k` agents of size >= `minSize` with the most free slots (at least one), most free first. */
  mostFree(k: number, minSize: number): AgentState[] {
    const out: AgentState[] = [];
    for (let f = this.maxFree; f >= 1 && out.length < k; f--) {
      const b = this.buckets[f];
      for (let i = b.length - 1; i >= 0 && out.length < k; i--) {
        if (b[i].size >= minSize) out.push(b[i]);
      }
    }
    return out;
  }
}
