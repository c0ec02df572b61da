// Printing a trial's logs: each line to the stream it was written to, or one JSON object a line (--json).
import type { TaskLog } from '@hone/protocol';
import { TERMINAL_TRIAL_STATES } from '@hone/protocol';
import type { Client } from './client';

function printLog(l: TaskLog, asJson?: boolean): void {
  if (asJson) {
    process.stdout.write(JSON.stringify(l) + '\n');
    return;
  }
  const stream = l.stream === 'stderr' ? process.stderr : process.stdout;
  stream.write(`[${l.ts.slice(11, 23)}] [rank=${l.rank ?? 0}] ${l.line}\n`);
}

/** Prints a trial's logs; with follow, keeps printing until the trial ends. */
export async function streamLogs(c: Client, trialId: number, opts: { follow: boolean; tail?: number; json?: boolean }): Promise<void> {
  let after = 0;
  const first = await c.get<TaskLog[]>(`/trials/${trialId}/logs?${opts.tail !== undefined ? `tail=${opts.tail}` : 'after_id=0'}`);
  for (const l of first) printLog(l, opts.json);
  if (first.length) after = first[first.length - 1]!.id;
  if (!opts.follow) return;
  while (true) {
    // The master holds the request up to 10 s for new lines and says the trial's state in a header.
    const res = await c.raw(`/trials/${trialId}/logs?after_id=${after}&wait_s=10`);
    const logs = (await res.json()) as TaskLog[];
    for (const l of logs) printLog(l, opts.json);
    if (logs.length) after = logs[logs.length - 1]!.id;
    const state = res.headers.get('x-trial-state');
    if (!logs.length && state && TERMINAL_TRIAL_STATES.includes(state as never)) return;
  }
}
