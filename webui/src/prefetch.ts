// Requests started before the component that needs them has rendered (e.g. the curves request as soon as
// the experiment JSON arrives, not after React has rendered a 1,000-row page). useApi takes a pending
// prefetch for its path instead of issuing a second request; unclaimed ones expire.
import { api } from './api';

const pending = new Map<string, Promise<unknown>>();

export function prefetch<T>(path: string): Promise<T> {
  let p = pending.get(path) as Promise<T> | undefined;
  if (!p) {
    p = api<T>(path);
    pending.set(path, p);
    const expire = () => setTimeout(() => pending.get(path) === p && pending.delete(path), 10_000);
    p.then(expire, expire);
  }
  return p;
}

export function takePrefetched<T>(path: string): Promise<T> | undefined {
  const p = pending.get(path) as Promise<T> | undefined;
  pending.delete(path);
  return p;
}
