// Printing a trial's logs: every line on stdout, whichever stream the trial wrote it to, so `> file` and `| grep`
// see them all (the CLI's own errors alone go to stderr); or one JSON object a line (--json), stream included.
import type { TaskLog } from '@hone/protocol/api';
import { TERMINAL_TRIAL_STATES } from '@hone/protocol/api';
import type { Client } from './client';

function formatLog(l: TaskLog, asJson?: boolean): string {
  return asJson ? JSON.stringify(l) : `[${l.ts.slice(11, 23)}] [rank=${l.rank ?? 0}] ${l.line}`;
}

function printLogs(logs: TaskLog[], asJson?: boolean): void {
  if (logs.length) process.stdout.write(logs.map((l) => formatLog(l, asJson) + '\n').join(''));
}

/** Prints a trial's logs; with follow, keeps printing until the trial ends. */
export async function streamLogs(c: Client, trialId: number, opts: { follow: boolean; tail?: number; json?: boolean }): Promise<void> {
  let after = 0;
  const first = await c.get<TaskLog[]>(`/trials/${trialId}/logs?${opts.tail !== undefined ? `tail=${opts.tail}` : 'after_id=0'}`);
  printLogs(first, opts.json);
  if (first.length) after = first[first.length - 1]!.id;
  if (!opts.follow) return;
  while (true) {
    // The master holds the request up to 10 s for new lines and says the trial's state in a header.
    const { body: logs, headers } = await c.requestWithHeaders<TaskLog[]>('GET', `/trials/${trialId}/logs?after_id=${after}&wait_s=10`);
    printLogs(logs, opts.json);
    if (logs.length) after = logs[logs.length - 1]!.id;
    const state = headers['x-trial-state'];
    if (!logs.length && typeof state === 'string' && TERMINAL_TRIAL_STATES.includes(state as never)) return;
  }
}
