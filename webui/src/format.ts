// Display helpers only the web UI needs. The number, time and duration formatters it shares with the CLI are in
// protocol/src/format.ts.
import type { ExperimentState, TrialState } from '@hone/protocol';

export function stateClass(s: ExperimentState | TrialState | string): string {
  if (s === 'ACTIVE' || s === 'RUNNING') return 'st-active';
  if (s === 'COMPLETED') return 'st-completed';
  if (s === 'PAUSED') return 'st-paused';
  if (s === 'PENDING' || s === 'ASSIGNED') return 'st-pending';
  if (s === 'TERMINATING') return 'st-stopping';
  if (s === 'ERROR' || s === 'STOPPING_ERROR') return 'st-error';
  if (s.startsWith('STOPPING')) return 'st-stopping';
  return 'st-canceled';
}

/** Prefixes a metric name already carries for its group (`validation_mae`, Keras' `val_loss`). */
const GROUP_PREFIXES: Record<string, string[]> = { validation: ['validation', 'val_'], training: ['training', 'train_'] };

/** A metric with its group, `validation loss`; a name that already says its group (`validation_mae`) stays as it is. */
export function metricLabel(group: string, name: string): string {
  return (GROUP_PREFIXES[group] ?? [group]).some((p) => name.startsWith(p)) ? name : `${group} ${name}`;
}

/** A state as badges and filters show it: `stopping canceled` (lower case; styles capitalise it). */
export function stateLabel(s: string): string {
  return s.replace('STOPPING_', 'STOPPING ').toLowerCase();
}

export function flattenHParams(h: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flattenHParams(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

/**
 * CSV with stored text in it (hyperparameter values, metric names, failures). A text cell that a spreadsheet
 * would read as a formula (`=HYPERLINK(…)`, `+`, `-`, `@`, a leading tab or CR) gets a leading `'`, as OWASP
 * advises; numbers, and text that is a number (`-0.5`), are left as they are.
 */
export function toCsv(header: string[], rows: unknown[][]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (typeof v !== 'number' && /^[=+\-@\t\r]/.test(s) && !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) s = `'${s}`;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

/** Distinct, readable colours for many series (golden-angle hue walk). */
export function seriesColor(i: number, alpha = 1): string {
  const hue = (i * 137.508 + 210) % 360;
  return `hsla(${hue.toFixed(1)}, 65%, 45%, ${alpha})`;
}

/** TensorBoard-style debiased exponential moving average. */
export function ema(ys: number[], w: number): number[] {
  if (w <= 0) return ys;
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return y;
    last = last * w + (1 - w) * y;
    n++;
    return last / (1 - w ** n);
  });
}
