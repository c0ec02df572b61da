// Printing a trial's logs: every line on stdout, whichever stream the trial wrote it to, so `> file` and `| grep`
// see them all (the CLI's own errors alone go to stderr); or one JSON object a line (--json), stream included.
import type { TaskLog } from '@hone/protocol/api';
import { TERMINAL_EXPERIMENT_STATES, TERMINAL_TRIAL_STATES } from '@hone/protocol/api';
import { HoneError } from '@hone/protocol/errors';
import type { Client } from './client';

function formatLog(l: TaskLog, asJson?: boolean): string {
  return asJson ? JSON.stringify(l) : `[${l.ts.slice(11, 23)}] [rank=${l.rank ?? 0}] ${l.line}`;
}

function printLogs(logs: TaskLog[], asJson?: boolean): void {
  if (logs.length) process.stdout.write(logs.map((l) => formatLog(l, asJson) + '\n').join(''));
}

/** Filters the master applies (GET /trials/:id/logs and /experiments/:id/logs). */
export interface LogFilterOptions {
  trial?: number;
  rank?: number;
  level?: string;
  grep?: string;
  since?: string;
}

/** Prints a trial's logs; with follow, keeps printing until the trial ends. */
export async function streamLogs(c: Client, trialId: number, opts: { follow: boolean; tail?: number; json?: boolean; filters?: LogFilterOptions }): Promise<void> {
  await streamLogsOf(c, `/trials/${trialId}/logs`, 'x-trial-state', TERMINAL_TRIAL_STATES, opts);
}

/** Prints the logs of all of an experiment's trials (or one, with `filters.trial`), until it ends with follow. */
export async function streamExperimentLogs(c: Client, experimentId: number, opts: { follow: boolean; tail?: number; json?: boolean; filters?: LogFilterOptions }): Promise<void> {
  await streamLogsOf(c, `/experiments/${experimentId}/logs`, 'x-experiment-state', TERMINAL_EXPERIMENT_STATES, opts);
}

async function streamLogsOf(
  c: Client,
  path: string,
  stateHeader: string,
  terminal: readonly string[],
  opts: { follow: boolean; tail?: number; json?: boolean; filters?: LogFilterOptions },
): Promise<void> {
  const f = opts.filters ?? {};
  const filters = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== undefined) filters.set(k, String(v));
  const extra = filters.size ? `&${filters}` : '';
  let after = 0;
  const first = await c.get<TaskLog[]>(`${path}?${opts.tail !== undefined ? `tail=${opts.tail}` : 'after_id=0'}${extra}`);
  printLogs(first, opts.json);
  if (first.length) after = first[first.length - 1]!.id;
  if (!opts.follow) return;
  while (true) {
    // The master holds the request up to 10 s for new lines and says the trial's state in a header.
    const { body: logs, headers } = await c.requestWithHeaders<TaskLog[]>('GET', `${path}?after_id=${after}&wait_s=10${extra}`);
    printLogs(logs, opts.json);
    if (logs.length) after = logs[logs.length - 1]!.id;
    const state = headers[stateHeader];
    if (!logs.length && typeof state === 'string' && terminal.includes(state)) return;
  }
}

/** The log filter options of `trial logs` and `experiment logs`, read from commander's options. */
export function logFilters(o: { rank?: string; level?: string; grep?: string; since?: string }): LogFilterOptions {
  const out: LogFilterOptions = {};
  if (o.rank !== undefined) {
    const n = Number(o.rank);
    if (!Number.isInteger(n) || n < 0) throw new HoneError('INVALID_ARGUMENT', `--rank must be a rank number (0, 1, ...), got "${o.rank}"`);
    out.rank = n;
  }
  if (o.level !== undefined) {
    const l = o.level.toUpperCase();
    if (!LEVELS.includes(l)) throw new HoneError('INVALID_ARGUMENT', `--level must be one of ${LEVELS.join(', ')}, got "${o.level}"`);
    out.level = l;
  }
  if (o.grep !== undefined) out.grep = o.grep;
  if (o.since !== undefined) out.since = o.since;
  return out;
}

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
