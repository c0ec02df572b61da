// The two shapes of a command's result on stdout: a table for people, or JSON for scripts (--json).
import Table from 'cli-table3';

/** A table cell; null and undefined print empty. */
export type Cell = string | number | null | undefined;

/** A table without row separators. */
export function table(head: string[], rows: Cell[][]): string {
  const t = new Table({ head, style: { head: ['cyan'], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))));
  return t.toString();
}

/** Pretty-printed JSON, one document per command. */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
