import type { ExperimentState, TrialState } from '@hone/protocol';

export function fmtMetric(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return Number(v.toPrecision(5)).toString();
}

export function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : fmtMetric(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fmtDuration(startIso: string | null | undefined, endIso: string | null | undefined, now = Date.now()): string {
  if (!startIso) return '–';
  const start = new Date(startIso).getTime();
  const end = endIso ? new Date(endIso).getTime() : now;
  let s = Math.max(0, Math.round((end - start) / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

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

export function flattenHParams(h: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flattenHParams(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
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
