// The two shapes of a command's result on stdout: a table for people, or JSON for scripts (--json).
import Table from 'cli-table3';

/** A table cell; null and undefined print empty. */
export type Cell = string | number | null | undefined;

/** Colour only for a person at a terminal: never when stdout is a pipe or a file, nor with NO_COLOR set (no-color.org). */
export function useColor(env: NodeJS.ProcessEnv = process.env, isTTY: boolean | undefined = process.stdout.isTTY): boolean {
  return Boolean(isTTY) && !env.NO_COLOR;
}

/** cli-table3's style: cyan headers when colour is on; borders never coloured. */
export function tableStyle(): { head: string[]; border: string[] } {
  return { head: useColor() ? ['cyan'] : [], border: [] };
}

/** A table without row separators. */
export function table(head: string[], rows: Cell[][]): string {
  const t = new Table({ head, style: tableStyle(), chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))));
  return t.toString();
}

/** Pretty-printed JSON, one document per command. */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
