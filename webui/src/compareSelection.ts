// The trials picked for comparison (2–10, from any experiments): checkboxes in the trial tables and the runs view
// add to it, the compare bar opens /compare?trials=… with them. Kept in sessionStorage, so picking trials in one
// experiment, then another, then opening the comparison works within a tab.
import { useSyncExternalStore } from 'react';

export const MAX_COMPARE = 10;
export const MIN_COMPARE = 2;
const KEY = 'hone.compare';

function read(): number[] {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x) && x > 0).slice(0, MAX_COMPARE) : [];
  } catch {
    return [];
  }
}

let selection: number[] = read();
const listeners = new Set<() => void>();

function set(next: number[]): void {
  selection = next;
  try {
    sessionStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    /* storage disabled: the selection lives for this page only */
  }
  for (const l of [...listeners]) l();
}

export function compareSelection(): number[] {
  return selection;
}

/** Adds or removes a trial; adding beyond MAX_COMPARE is refused (false). */
export function toggleCompare(id: number): boolean {
  if (selection.includes(id)) {
    set(selection.filter((x) => x !== id));
    return true;
  }
  if (selection.length >= MAX_COMPARE) return false;
  set([...selection, id]);
  return true;
}

export function setCompare(ids: number[]): void {
  set([...new Set(ids)].slice(0, MAX_COMPARE));
}

export function clearCompare(): void {
  set([]);
}

export function useCompareSelection(): number[] {
  return useSyncExternalStore(
    (l) => (listeners.add(l), () => listeners.delete(l)),
    () => selection,
  );
}

/** The comparison page for these trials. */
export function comparePath(ids: number[]): string {
  return `/compare?trials=${ids.join(',')}`;
}

/** Trial ids from `?trials=1,2,3` (duplicates and junk dropped, at most MAX_COMPARE). */
export function parseCompareIds(s: string | null): number[] {
  const ids = (s ?? '')
    .split(',')
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isInteger(x) && x > 0);
  return [...new Set(ids)].slice(0, MAX_COMPARE);
}
