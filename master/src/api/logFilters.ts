// The log filters shared by GET /trials/:id/logs and GET /experiments/:id/logs: rank, minimum level, a regular
// expression, a start time (ISO, or a duration back from now), and the paging of the plain reads.
import { Type, type Static } from 'typebox';
import type { TaskLog } from '@hone/protocol';
import type { MasterContext } from '../context';
import { LOG_LEVELS, queryLogs, type LogQuery } from '../db/logs';
import { invalid } from '../errors';

export const LogFilterQuery = Type.Object({
  after_id: Type.Optional(Type.Integer({ minimum: 0 })),
  tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
  limit: Type.Integer({ minimum: 1, maximum: 10000, default: 5000 }),
  wait_s: Type.Number({ minimum: 0, maximum: 60, default: 0 }),
  rank: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  level: Type.Optional(Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)))),
  grep: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  since: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});
export type LogFilterQueryStatic = Static<typeof LogFilterQuery>;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `since`: an ISO time, or a duration back from now (`30s`, `10m`, `2h`, `1d`). */
export function parseSince(s: string, now = Date.now()): Date {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(s.trim());
  if (m) return new Date(now - Number(m[1]) * UNIT_MS[m[2]!]!);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw invalid(`since: must be an ISO time or a duration such as 10m or 2h, got "${s}"`);
  return new Date(t);
}

export function logQueryOf(q: LogFilterQueryStatic): LogQuery {
  return {
    limit: q.limit,
    ...(q.after_id !== undefined ? { afterId: q.after_id } : {}),
    ...(q.tail !== undefined ? { tail: q.tail } : {}),
    ...(q.rank !== undefined ? { rank: q.rank } : {}),
    ...(q.level !== undefined ? { level: q.level } : {}),
    ...(q.grep !== undefined ? { grep: q.grep } : {}),
    ...(q.since !== undefined ? { since: parseSince(q.since) } : {}),
  };
}

/** Runs a filtered log read; a bad `grep` pattern is the user's mistake (400), not the master's. */
export async function readLogs(ctx: MasterContext, query: LogQuery): Promise<TaskLog[]> {
  try {
    return await queryLogs(ctx.db, query);
  } catch (e) {
    if ((e as { code?: string }).code === '2201B') throw invalid(`grep: not a valid regular expression (${(e as Error).message})`);
    throw e;
  }
}
