import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from './api';
import { stream } from './stream';
import { takePrefetched } from './prefetch';

export interface Fetched<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
  setData: (f: (d: T | undefined) => T | undefined) => void;
}

/**
 * GETs `path` (null: nothing) and refetches after a stream reconnect. The last data stays while a new path
 * loads (a filter change keeps the table in place instead of flashing empty); pages keyed by id remount.
 */
export function useApi<T>(path: string | null): Fetched<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    if (path === null) return;
    let live = true;
    setLoading(true);
    (takePrefetched<T>(path) ?? api<T>(path)).then(
      (d) => {
        if (!live) return;
        setDataState(d);
        setError(undefined);
        setLoading(false);
      },
      (e: Error) => {
        if (!live) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [path, tick]);

  useEffect(() => stream.onReconnect(reload), [reload]);

  const setData = useCallback((f: (d: T | undefined) => T | undefined) => setDataState(f), []);
  return { data, error, loading, reload, setData };
}

/**
 * Coalesces bursts of live events into at most one call per `ms`: a stream of metric messages for
 * a thousand trials turns into one refetch every few seconds instead of a polling storm.
 */
export function useThrottle(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  // The window starts at mount: the page has just loaded its data, so the first event waits too.
  const state = useRef<{ timer: ReturnType<typeof setTimeout> | null; last: number }>({ timer: null, last: Date.now() });
  useEffect(
    () => () => {
      if (state.current.timer) clearTimeout(state.current.timer);
    },
    [],
  );
  return useCallback(() => {
    const s = state.current;
    if (s.timer) return;
    const wait = Math.max(0, s.last + ms - Date.now());
    s.timer = setTimeout(() => {
      s.timer = null;
      s.last = Date.now();
      fnRef.current();
    }, wait);
  }, [ms]);
}

export function useSubscription(topic: string | null, handler: Parameters<typeof stream.subscribe>[1]): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    if (!topic) return;
    return stream.subscribe(topic, (m) => ref.current(m));
  }, [topic]);
}

export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/**
 * Marks the current page usable (its data drawn): `body[data-ready="1"]` for tests and a `hone:ready`
 * performance mark for the benchmark. Cleared on every navigation by the App.
 */
export function markReady(): void {
  if (document.body.dataset.ready === '1') return;
  document.body.dataset.ready = '1';
  try {
    performance.mark('hone:ready');
  } catch {
    /* marks unsupported */
  }
  window.dispatchEvent(new Event('hone:ready'));
}

/** Runs `fn` once the current page is drawn (markReady), or after `maxMs` at the latest: work that can wait. */
export function afterReady(fn: () => void, maxMs = 2000): void {
  if (document.body.dataset.ready === '1') return fn();
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    window.removeEventListener('hone:ready', run);
    clearTimeout(timer);
    fn();
  };
  const timer = setTimeout(run, maxMs);
  window.addEventListener('hone:ready', run);
}
