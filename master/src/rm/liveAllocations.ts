// The live allocation rows a resource manager's pass works from, kept between passes. A pass used to read every
// live row from the database, twice: at 10,000 live allocations that is most of what a pass costs, and most
// rows have not changed since the last one. Every write that changes a live row is announced once it has
// committed (db/allocations.ts, `onAllocationWrite`), so a read here asks the database only for the rows
// announced since the last read, and hands back the same objects for the rows that did not change (which lets
// the snapshot builder and the incremental scheduler skip them at the cost of one comparison).
// Correctness does not rest on the announcements alone: the first read, the first after a failed one, and one
// every `fullReadMs` read every live row.
import type { Queryable } from '../db/database';
import { getLiveAllocationsWritten, listLiveAllocations, onAllocationWrite, type AllocationWrite, type LiveAllocation } from '../db/allocations';

/** How often every live row is read again, whatever was announced. */
export const FULL_READ_MS = 30_000;

export interface LiveAllocationsOptions {
  fullReadMs?: number;
  now?: () => number;
}

export class LiveAllocations {
  /** The live rows in submission order (`seq`). */
  private rows: LiveAllocation[] = [];
  private readonly byId = new Map<string, LiveAllocation>();
  private loaded = false;
  private lastFull = 0;
  /** Announced since the last read. */
  private readonly ids = new Set<string>();
  private readonly experiments = new Set<number>();
  private readonly trials = new Set<number>();
  private readonly unsubscribe: () => void;
  /** Reads run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Reads so far, for tests: full ones, ones of announced rows, and the rows they returned. */
  readonly stats = { fullReads: 0, partialReads: 0, rowsRead: 0 };

  constructor(
    private readonly db: Queryable,
    private readonly opts: LiveAllocationsOptions = {},
  ) {
    this.unsubscribe = onAllocationWrite((w) => this.announced(w));
  }

  close(): void {
    this.unsubscribe();
  }

  /** The row of a live allocation as of the last read. */
  get(id: string): LiveAllocation | undefined {
    return this.byId.get(id);
  }

  /** The live rows now, in submission order. Rows that did not change since the last read are the same objects.
   * Treat the array and its rows as read-only. */
  read(): Promise<LiveAllocation[]> {
    const next = this.queue.then(() => this.readNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private announced(w: AllocationWrite): void {
    for (const id of w.ids ?? []) this.ids.add(id);
    if (w.experimentId !== undefined) this.experiments.add(w.experimentId);
    if (w.trialId !== undefined) this.trials.add(w.trialId);
  }

  private async readNow(): Promise<LiveAllocation[]> {
    const now = (this.opts.now ?? Date.now)();
    if (!this.loaded || now - this.lastFull >= (this.opts.fullReadMs ?? FULL_READ_MS)) return this.readAll(now);
    if (!this.ids.size && !this.experiments.size && !this.trials.size) return this.rows;
    const w = this.takeAnnounced();
    let got: LiveAllocation[];
    try {
      got = await getLiveAllocationsWritten(this.db, w);
    } catch (e) {
      this.loaded = false;
      throw e;
    }
    this.stats.partialReads++;
    this.stats.rowsRead += got.length;
    this.apply(w, got);
    return this.rows;
  }

  /** What was announced since the last read, forgotten here: taken before a query, so that a write announced
   * while it runs is read again next time. */
  private takeAnnounced(): { ids: string[]; experimentIds: number[]; trialIds: number[] } {
    const w = { ids: [...this.ids], experimentIds: [...this.experiments], trialIds: [...this.trials] };
    this.ids.clear();
    this.experiments.clear();
    this.trials.clear();
    return w;
  }

  private async readAll(now: number): Promise<LiveAllocation[]> {
    this.takeAnnounced();
    this.loaded = false;
    const rows = await listLiveAllocations(this.db);
    this.stats.fullReads++;
    this.stats.rowsRead += rows.length;
    // Rows that did not change keep their objects here too.
    this.rows = rows.map((r) => {
      const old = this.byId.get(r.id);
      return old && sameRow(old, r) ? old : r;
    });
    this.byId.clear();
    for (const r of this.rows) this.byId.set(r.id, r);
    this.loaded = true;
    this.lastFull = now;
    return this.rows;
  }

  /** Folds the rows read for the announced writes `w` into the copy. */
  private apply(w: { ids: string[]; experimentIds: number[]; trialIds: number[] }, got: LiveAllocation[]): void {
    const fresh = new Map(got.map((r) => [r.id, r]));
    // Positions in `rows` (by seq, which is unique and ascending) of the rows that went or changed.
    const gone = new Set<number>();
    const replaced = new Map<number, LiveAllocation>();
    const place = (old: LiveAllocation): number => {
      let lo = 0;
      let hi = this.rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.rows[mid].seq < old.seq) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const drop = (old: LiveAllocation): void => {
      gone.add(place(old));
      this.byId.delete(old.id);
    };
    for (const id of w.ids) {
      const old = this.byId.get(id);
      if (old && !fresh.has(id)) drop(old);
    }
    if (w.experimentIds.length || w.trialIds.length) {
      const exps = new Set(w.experimentIds);
      const trials = new Set(w.trialIds);
      for (const old of this.rows) if ((exps.has(old.experimentId) || trials.has(old.trialId)) && !fresh.has(old.id) && this.byId.has(old.id)) drop(old);
    }
    const added: LiveAllocation[] = [];
    for (const r of got) {
      const old = this.byId.get(r.id);
      if (!old) added.push(r);
      else if (!sameRow(old, r)) replaced.set(place(old), r);
      else continue;
      this.byId.set(r.id, r);
    }
    if (!gone.size && !replaced.size && !added.length) return;
    const rows: LiveAllocation[] = [];
    for (let i = 0; i < this.rows.length; i++) if (!gone.has(i)) rows.push(replaced.get(i) ?? this.rows[i]);
    const last = rows.length ? rows[rows.length - 1].seq : -Infinity;
    for (const r of added) rows.push(r);
    if (added.some((r) => r.seq < last)) rows.sort((a, b) => a.seq - b.seq);
    this.rows = rows;
  }
}

/** Whether two reads of a live row hold the same values. */
function sameRow(a: LiveAllocation, b: LiveAllocation): boolean {
  return (
    a.id === b.id &&
    a.trialId === b.trialId &&
    a.experimentId === b.experimentId &&
    a.state === b.state &&
    a.slots === b.slots &&
    a.pool === b.pool &&
    a.token === b.token &&
    a.preemptRequested === b.preemptRequested &&
    a.killRequested === b.killRequested &&
    a.seq === b.seq &&
    a.createdAt.getTime() === b.createdAt.getTime() &&
    a.priority === b.priority &&
    a.weight === b.weight &&
    a.maxSlots === b.maxSlots &&
    JSON.stringify(a.placement) === JSON.stringify(b.placement)
  );
}
