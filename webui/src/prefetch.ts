// Requests started before the component that needs them has rendered (e.g. the curves request as soon as
// the experiment JSON arrives, not after React has rendered a 1,000-row page). useApi takes a pending
// prefetch for its path instead of issuing a second request; unclaimed ones expire.
import { api, apiResponse } from './api';

const pending = new Map<string, Promise<unknown>>();

declare global {
  interface Window {
    /** Responses index.html requested before the bundle loaded: by API path, and the curves request. */
    __honePrefetch?: Record<string, Promise<Response>> & { curves?: Promise<{ path: string; res: Promise<Response> } | null> };
  }
}

/** Adopts a response the boot script in index.html already requested, at most once per path. */
function fromBoot<T>(path: string): Promise<T> | undefined {
  const boot = window.__honePrefetch;
  if (!boot) return undefined;
  const res = boot[path];
  if (res) {
    delete boot[path];
    return res.then((r) => apiResponse<T>(r));
  }
  const curves = boot.curves;
  if (curves && path.includes('/metrics?')) {
    delete boot.curves;
    return curves.then((c) => (c && c.path === path ? c.res.then((r) => apiResponse<T>(r)) : api<T>(path)));
  }
  return undefined;
}

export function prefetch<T>(path: string): Promise<T> {
  let p = pending.get(path) as Promise<T> | undefined;
  if (!p) {
    p = fromBoot<T>(path) ?? api<T>(path);
    pending.set(path, p);
    const expire = () => setTimeout(() => pending.get(path) === p && pending.delete(path), 10_000);
    p.then(expire, expire);
  }
  return p;
}

export function takePrefetched<T>(path: string): Promise<T> | undefined {
  const p = pending.get(path) as Promise<T> | undefined;
  pending.delete(path);
  return p ?? fromBoot<T>(path);
}
