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

/** `$1, $2, ...` rows for a multi-row INSERT of `rows` rows of `width` parameters, starting after `offset`. */
export function valuesList(rows: number, width: number, offset = 0): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cols: string[] = [];
    for (let c = 1; c <= width; c++) cols.push(`$${offset + r * width + c}`);
    out.push(`(${cols.join(', ')})`);
  }
  return out.join(', ');
}
