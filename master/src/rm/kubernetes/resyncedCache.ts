// The master's cache of one kind of Kubernetes object (a namespace's Jobs, Pods, Events; the Nodes), fed by the
// client's informer (list + watch) and corrected by a periodic resync: a fresh list compared object by object
// with what the cache holds. A watch can miss a transition without ever closing (a dropped event, a bug between
// the API server's watch cache and the client); the informer then holds the stale object until the next 410.
// The resync finds it: an object whose resourceVersion differs, one the cache lacks, one the list lacks, and
// applies the listed state through the same add/update/delete handlers as the watch.
//
// Races with the watch are settled without comparing resourceVersions (they are opaque strings): an object the
// watch reported after the list was requested is newer than the list's copy, so the resync leaves it alone.
import type { KubernetesObject } from '@kubernetes/client-node';

export type CacheEvent = 'add' | 'update' | 'delete';

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class ResyncedCache<T extends KubernetesObject> {
  private readonly objects = new Map<string, T>();
  /** Sequence number of the last watch event of each key (deleted keys too, until a resync settles them). */
  private readonly lastEvent = new Map<string, number>();
  private seq = 0;
  private readonly handlers: Record<CacheEvent, Array<(o: T) => void>> = { add: [], update: [], delete: [] };

  constructor(private readonly listFn: () => Promise<{ items: T[] }>) {}

  on(event: CacheEvent, cb: (o: T) => void): void {
    this.handlers[event].push(cb);
  }

  /** What the watch (or the informer's own re-list) reported. */
  apply(event: CacheEvent, o: T): void {
    const k = keyOf(o);
    this.lastEvent.set(k, ++this.seq);
    if (event === 'delete') this.objects.delete(k);
    else this.objects.set(k, o);
    for (const cb of this.handlers[event]) cb(o);
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(`${namespace ?? ''}/${name}`);
  }

  /**
   * Lists afresh and applies every difference the watch has not already settled; returns what it corrected.
   * A failed list changes nothing (it is not an empty one).
   */
  async resync(): Promise<{ added: number; updated: number; deleted: number }> {
    const from = this.seq;
    const { items } = await this.listFn();
    const fresh = (k: string) => (this.lastEvent.get(k) ?? -1) > from;
    const out = { added: 0, updated: 0, deleted: 0 };
    const listed = new Set<string>();
    const emit = (event: CacheEvent, o: T) => {
      for (const cb of this.handlers[event]) cb(o);
    };
    for (const o of items) {
      const k = keyOf(o);
      listed.add(k);
      if (fresh(k)) continue;
      const have = this.objects.get(k);
      if (have && have.metadata?.resourceVersion === o.metadata?.resourceVersion) continue;
      this.objects.set(k, o);
      if (have) {
        out.updated++;
        emit('update', o);
      } else {
        out.added++;
        emit('add', o);
      }
    }
    for (const [k, o] of [...this.objects]) {
      if (listed.has(k) || fresh(k)) continue;
      this.objects.delete(k);
      out.deleted++;
      emit('delete', o);
    }
    // Settled: only keys the watch touched since the list was requested still need their sequence number.
    for (const [k, s] of this.lastEvent) if (s <= from) this.lastEvent.delete(k);
    return out;
  }
}
