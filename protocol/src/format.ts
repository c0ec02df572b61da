// How numbers, metrics, times, durations and sizes read, for the CLI and the web UI. Pure functions, no
// dependencies, so the browser bundle can import this file on its own. Where the two clients show a value
// differently on purpose there are two functions, each saying which client and why.

/** What the web UI shows for a value that is missing (the CLI's tables leave the cell empty instead). */
export const MISSING = '–';

/** Five significant digits without trailing zeros (0.123456 → "0.12346", 0.5 → "0.5"); `missing` when not finite. */
export function formatSignificant(v: number | null | undefined, missing = MISSING): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return missing;
  return String(Number(v.toPrecision(5)));
}

/** A metric as the web UI shows it: like formatSignificant, in exponent notation below 1e-3 and from 1e6 up. */
export function formatMetric(v: number | null | undefined): string {
  if (typeof v === 'number' && Number.isFinite(v)) {
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  }
  return formatSignificant(v);
}

/**
 * A number in a CLI table: fractions keep five significant digits with their trailing zeros (0.5 → "0.50000"),
 * so a column of metrics lines up; integers and values from 1000 up print in full; a missing one is empty.
 */
export function formatTableNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) return '';
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : v.toPrecision(5);
}

/** A fraction as a whole percentage, rounded half up: 0.125 → "13%". */
export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** A hyperparameter or other JSON value: numbers through `formatNumber`, objects (and null) as JSON, the rest as text. */
function valueText(v: unknown, formatNumber: (n: number) => string): string {
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A value in a web UI cell: integers whole, other numbers as metrics, objects as JSON; MISSING for none. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return MISSING;
  return valueText(v, (n) => (Number.isInteger(n) ? String(n) : formatMetric(n)));
}

/** Hyperparameters (or metrics) as the CLI prints them on one line: `lr=0.010000 layers=2 opt=adam`. */
export function formatHParams(h: Record<string, unknown>): string {
  return Object.entries(h)
    .map(([k, v]) => `${k}=${valueText(v, formatTableNumber)}`)
    .join(' ');
}

/**
 * A timestamp as the CLI prints it: `2026-01-02 03:04:05` in UTC, so the same run reads the same on every
 * machine and sorts as text; empty for none.
 */
export function formatUtcTime(iso: string | null): string {
  return iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '';
}

/** A timestamp as the web UI shows it: `2026-01-02 03:04` in the viewer's time zone; MISSING for none or garbage. */
export function formatLocalTime(iso: string | null | undefined): string {
  if (!iso) return MISSING;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return MISSING;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Whole seconds from start to end, or to `now` while it has not ended; never negative. */
function elapsedSeconds(startIso: string, endIso: string | null | undefined, now: number): number {
  const end = endIso ? Date.parse(endIso) : now;
  return Math.max(0, Math.round((end - Date.parse(startIso)) / 1000));
}

/** A duration as the web UI shows it, two units at most: `42s`, `3m 7s`, `1h 2m`, `2d 5h`; MISSING before it starts. */
export function formatDuration(startIso: string | null | undefined, endIso: string | null | undefined, now = Date.now()): string {
  if (!startIso) return MISSING;
  let s = elapsedSeconds(startIso, endIso, now);
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

/** A duration as the CLI prints it: one word (no spaces, padded minor unit) for table cells and scripts: `42s`, `3m07s`, `26h05m`. */
export function formatClockDuration(startIso: string, endIso: string | null, now = Date.now()): string {
  const s = elapsedSeconds(startIso, endIso, now);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A size as the web UI shows it, in the largest binary unit under 1024: `512 B`, `1.5 KB`, `3.0 GB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KB', 'MB', 'GB', 'TB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < u.length - 1);
  return `${n.toFixed(1)} ${u[i]}`;
}

/** A size as the CLI prints it: always KiB, one decimal, so sizes in one listing compare at a glance. */
export function formatKiB(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** A number of seconds as hours, minutes and seconds: 3725 → "1h 2m 5s", 65 → "1m 5s", 5 → "5s". */
export function formatSeconds(s: number): string {
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h ? `${h}h ${m}m ${sec}s` : m ? `${m}m ${sec}s` : `${sec}s`;
}
