// Small SQL helpers shared by the repositories (and only by them).

export const iso = (d: unknown): string => (d instanceof Date ? d.toISOString() : String(d));
export const isoOrNull = (d: unknown): string | null => (d == null ? null : iso(d));

/**
 * SQL for "the better of `current` and `candidate`" in the searcher's direction (`smaller`, a boolean SQL
 * expression): NULLs never win. The one place the best-value rule is written.
 */
export function bestSql(current: string, candidate: string, smaller: string): string {
  return `CASE WHEN ${candidate} IS NULL THEN ${current} WHEN ${current} IS NULL THEN ${candidate}
               WHEN ${smaller} THEN LEAST(${current}, ${candidate}) ELSE GREATEST(${current}, ${candidate}) END`;
}
