// Task log ingestion: lines shipped by agents and lines the harness posts itself are stored in one batch
// statement and published to live followers, in order.
import type { TaskLog } from '@hone/protocol';
import type { Database } from '../db';
import { insertLogs, type NewLogLine } from '../db/logs';
import type { EventBus } from '../events';

/** A log line's level, from common prefixes (ERROR, WARN, ...) or the stream it came on. */
export function levelOf(line: string, stream: string): string {
  const m = /\b(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b/.exec(line.slice(0, 64));
  if (m) return m[1] === 'WARNING' ? 'WARN' : m[1] === 'CRITICAL' ? 'FATAL' : m[1]!;
  return stream === 'stderr' ? 'ERROR' : 'INFO';
}

export async function ingestLogs(db: Database, bus: EventBus, trialId: number, lines: NewLogLine[]): Promise<TaskLog[]> {
  const stored = await insertLogs(db, trialId, lines);
  for (const log of stored) bus.publish({ type: 'log', log });
  return stored;
}
