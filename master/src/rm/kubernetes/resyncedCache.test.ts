import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { ResyncedCache } from './resyncedCache';

const pod = (name: string, rv: string, phase = 'Running'): V1Pod => ({ metadata: { name, namespace: 'ns', resourceVersion: rv }, status: { phase } });

/** A cache over a fake list whose answer the test sets, and the events it emitted. */
function setup() {
  let items: V1Pod[] = [];
  let gate: Promise<void> = Promise.resolve();
  const cache = new ResyncedCache<V1Pod>(async () => {
    const snapshot = items;
    await gate;
    return { items: snapshot };
  });
  const seen: string[] = [];
  for (const e of ['add', 'update', 'delete'] as const) cache.on(e, (p) => seen.push(`${e} ${p.metadata!.name}@${p.metadata!.resourceVersion}:${p.status?.phase}`));
  return { cache, seen, setItems: (x: V1Pod[]) => (items = x), setGate: (g: Promise<void>) => (gate = g) };
}

describe('the resynced cache', () => {
  it('passes watch events through', () => {
    const { cache, seen } = setup();
    cache.apply('add', pod('a', '1'));
    cache.apply('update', pod('a', '2', 'Succeeded'));
    expect(cache.get('a', 'ns')?.status?.phase).toBe('Succeeded');
    cache.apply('delete', pod('a', '3', 'Succeeded'));
    expect(cache.list()).toEqual([]);
    expect(seen).toEqual(['add a@1:Running', 'update a@2:Succeeded', 'delete a@3:Succeeded']);
  });

  it('recovers a transition the watch never delivered, and an add and a delete it missed', async () => {
    const { cache, seen, setItems } = setup();
    cache.apply('add', pod('a', '1'));
    cache.apply('add', pod('gone', '2'));
    seen.length = 0;
    // The API server moved on: a succeeded, gone was deleted, b was created; the watch said nothing.
    setItems([pod('a', '5', 'Succeeded'), pod('b', '6', 'Pending')]);
    expect(await cache.resync()).toEqual({ added: 1, updated: 1, deleted: 1 });
    expect(seen.sort()).toEqual(['add b@6:Pending', 'delete gone@2:Running', 'update a@5:Succeeded']);
    expect(cache.get('a', 'ns')?.status?.phase).toBe('Succeeded');
    // Nothing changed since: nothing to correct.
    seen.length = 0;
    expect(await cache.resync()).toEqual({ added: 0, updated: 0, deleted: 0 });
    expect(seen).toEqual([]);
  });

  it('never lets a list older than the watch undo what the watch reported meanwhile', async () => {
    const { cache, seen, setItems, setGate } = setup();
    cache.apply('add', pod('a', '1'));
    cache.apply('add', pod('d', '2'));
    setItems([pod('a', '1'), pod('d', '2')]);
    let release!: () => void;
    setGate(new Promise<void>((r) => (release = r)));
    const pending = cache.resync();
    // While the list is in flight, the watch reports a newer a, a deleted d and a new c.
    cache.apply('update', pod('a', '3', 'Succeeded'));
    cache.apply('delete', pod('d', '4'));
    cache.apply('add', pod('c', '5'));
    seen.length = 0;
    release();
    expect(await pending).toEqual({ added: 0, updated: 0, deleted: 0 });
    expect(seen).toEqual([]);
    expect(cache.get('a', 'ns')?.status?.phase).toBe('Succeeded');
    expect(cache.get('d', 'ns')).toBeUndefined();
    expect(cache.get('c', 'ns')).toBeDefined();
  });

  it('a failed list changes nothing', async () => {
    const cache = new ResyncedCache<V1Pod>(async () => {
      throw new Error('HTTP-Code: 500');
    });
    cache.apply('add', pod('a', '1'));
    await expect(cache.resync()).rejects.toThrow('500');
    expect(cache.list()).toHaveLength(1);
  });
});
