// Helpers shared by the searchers.
import type { SearcherConfig } from '@hone/protocol';
import type { SearcherAction, SearcherState } from './types';

/**
 * Deep copy of JSON state; steps never mutate the state they are given. A plain recursive copy (several times
 * faster than a JSON round trip on large states); like JSON it drops undefined fields.
 */
export function cloneState<T>(s: T): T {
  return copy(s) as T;
}

function copy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = copy(v[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = copy(x);
  }
  return out;
}

/** Request ids are the searcher's own: `r1`, `r2`, ... in creation order. */
export function requestId(n: number): string {
  return `r${n}`;
}

/**
 * Converts a reported metric to a loss (smaller is better). Non-finite metrics become `null`, which every
 * searcher ranks as the worst possible result (JSON cannot hold Infinity, so null is the stored form).
 */
export function toLoss(config: SearcherConfig, metric: number): number | null {
  if (!Number.isFinite(metric)) return null;
  return config.smaller_is_better ? metric : -metric;
}

/** Orders losses ascending with null (failed / non-finite) last. */
export function compareLoss(a: number | null, b: number | null): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return a - b;
}

/** max_concurrent_trials, with 0 meaning "no limit of the searcher's own". */
export function concurrencyLimit(config: SearcherConfig, fallback: number): number {
  return config.max_concurrent_trials > 0 ? config.max_concurrent_trials : fallback;
}

export interface Emitter {
  actions: SearcherAction[];
}

export interface BaseState extends SearcherState {
  config: SearcherConfig;
  shutdown: boolean;
}
