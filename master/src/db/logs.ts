// Task logs repository: the only code that reads or writes `task_logs`.
import type { TaskLog } from '@hone/protocol';
import type { Queryable } from './database';
import { iso } from './sql';

function toLog(r: any): TaskLog {
  return {
    id: Number(r.id),
    trialId: Number(r.trial_id),
    allocationId: r.allocation_id ?? null,
    agentId: r.agent_id ?? null,
    rank: r.rank ?? null,
    stream: r.stream,
    level: r.level,
    ts: iso(r.ts),
    line: r.line,
  };
}

/** One log line to store. `ts` null means "now" (lines the harness posts itself carry no agent clock). */
export interface NewLogLine {
  allocationId: string | null;
  agentId: string | null;
  rank: number;
  stream: string;
  level: string;
  ts: string | null;
  line: string;
}


/** Stores a batch of a trial's lines in one statement and returns them as stored (with ids), in order. */
export async function insertLogs(q: Queryable, trialId: number, lines: NewLogLine[]): Promise<TaskLog[]> {
  if (!lines.length) return [];
  const params: unknown[] = [];
  const rows: string[] = [];
  for (const l of lines) {
    const i = params.length;
    rows.push(`($${i + 1}::bigint, $${i + 2}, $${i + 3}, $${i + 4}::int, $${i + 5}, $${i + 6}, coalesce($${i + 7}::timestamptz, now()), $${i + 8})`);
    params.push(trialId, l.allocationId, l.agentId, l.rank, l.stream, l.level, l.ts, l.line);
  }
  const r = await q.query(
    `INSERT INTO task_logs (trial_id, allocation_id, agent_id, rank, stream, level, ts, line) VALUES ${rows.join(',')} RETURNING *`,
    params,
  );
  return r.rows.map(toLog).sort((a, b) => a.id - b.id);
}

/** The last `n` lines of a trial, oldest first. */
export async function tailLogs(q: Queryable, trialId: number, n: number): Promise<TaskLog[]> {
  const r = await q.query('SELECT * FROM (SELECT * FROM task_logs WHERE trial_id = $1 ORDER BY id DESC LIMIT $2) s ORDER BY id', [trialId, n]);
  return r.rows.map(toLog);
}

/** Up to `limit` lines of a trial after line id `afterId`, oldest first. */
export async function logsAfter(q: Queryable, trialId: number, afterId: number, limit: number): Promise<TaskLog[]> {
  const r = await q.query('SELECT * FROM task_logs WHERE trial_id = $1 AND id > $2 ORDER BY id LIMIT $3', [trialId, afterId, limit]);
  return r.rows.map(toLog);
}

/**
 * The last error line one rank of an allocation logged (ERROR or FATAL level, or anything on stderr) that is
 * not part of a stack trace, or null.
 * What a failed run's summary quotes: usually the exception that ended it.
 */
export async function lastErrorLine(q: Queryable, allocationId: string, rank: number): Promise<string | null> {
  const r = await q.query<{ line: string }>(
    // Stack frames ("    at f (file:1:2)"), an error's property block ("  code: 'ENOENT'"), the caret under the
    // failing source line and Node's version trailer follow the message; they are indented or fixed: skip them.
    `SELECT line FROM task_logs WHERE allocation_id = $1 AND rank = $2 AND (level IN ('ERROR','FATAL') OR stream = 'stderr')
        AND line !~ '^\\s' AND line ~ '\\S' AND line !~ '^Node\\.js v[0-9]' AND btrim(line) NOT IN ('^', '}', '{')
      ORDER BY id DESC LIMIT 1`,
    [allocationId, rank],
  );
  return r.rows[0]?.line ?? null;
}

/** Log retention: deletes the task log lines older than `days` days; returns how many went. */
export async function deleteLogsOlderThan(q: Queryable, days: number): Promise<number> {
  const r = await q.query(`DELETE FROM task_logs WHERE ts < now() - ($1::float8 * interval '1 day')`, [days]);
  return r.rowCount;
}

/** Log levels, least severe first: a `level` filter keeps that level and the more severe ones. */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Which lines to read: a trial's or an experiment's, filtered, after an id or the last `tail`. */
export interface LogQuery {
  trialId?: number;
  experimentId?: number;
  rank?: number;
  /** Minimum level. */
  level?: LogLevel;
  /** A POSIX regular expression (PostgreSQL `~`), matched against the line. */
  grep?: string;
  since?: Date;
  afterId?: number;
  /** The last n matching lines (instead of the first `limit` after `afterId`). */
  tail?: number;
  limit: number;
}

/** Filtered log lines, oldest first, filtered in SQL (an invalid `grep` is an error with code 2201B). */
export async function queryLogs(q: Queryable, f: LogQuery): Promise<TaskLog[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.trialId !== undefined) add('trial_id = ?', f.trialId);
  if (f.experimentId !== undefined) add('trial_id IN (SELECT id FROM trials WHERE experiment_id = ?)', f.experimentId);
  if (f.rank !== undefined) add('rank = ?', f.rank);
  if (f.level !== undefined) add('level = ANY(?)', LOG_LEVELS.slice(LOG_LEVELS.indexOf(f.level)));
  if (f.grep !== undefined) add('line ~ ?', f.grep);
  if (f.since !== undefined) add('ts >= ?', f.since.toISOString());
  if (f.afterId !== undefined) add('id > ?', f.afterId);
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const sql =
    f.tail !== undefined && f.afterId === undefined
      ? `SELECT * FROM (SELECT * FROM task_logs ${w} ORDER BY id DESC LIMIT ${Math.trunc(f.tail)}) s ORDER BY id`
      : `SELECT * FROM task_logs ${w} ORDER BY id LIMIT ${Math.trunc(f.limit)}`;
  const r = await q.query(sql, params);
  return r.rows.map(toLog);
}
