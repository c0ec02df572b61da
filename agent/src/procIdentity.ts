// Who a process is: its pid and its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot). A pid
// alone is not an identity — after a process exits the kernel may give its pid to another — so a rank is known by
// both, and a restarted agent never mistakes a recycled pid for one of its ranks (nor signals it).
import fs from 'node:fs';

/** Field 22 (starttime) of a /proc/<pid>/stat line. The command name (field 2) is in parentheses and may itself
 * hold spaces and parentheses, so fields are counted from after its last ')'. */
export function parseStartTime(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  // After ')': field 3 (state) is the first; starttime is field 22, i.e. the 20th after the name.
  const fields = stat.slice(close + 1).trim().split(/\s+/);
  const v = fields[19];
  return v !== undefined && /^\d+$/.test(v) ? v : null;
}

/** The start time of process `pid`, or null when there is no such process (or no /proc). */
export async function processStartTime(pid: number): Promise<string | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return parseStartTime(await fs.promises.readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The same, synchronously (right after a spawn, before anything else can run). */
export function processStartTimeSync(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return parseStartTime(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` is still the one that started at `startTime`. A zombie (exited, not yet reaped: state Z)
 * counts as gone: it runs nothing.
 */
export async function isSameProcess(pid: number, startTime: string): Promise<boolean> {
  let stat: string;
  try {
    stat = await fs.promises.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[0];
  return state !== 'Z' && state !== 'X' && parseStartTime(stat) === startTime;
}
