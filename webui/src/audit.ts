// Audit entries (ExperimentDetail.audit) in words: "alice paused the experiment", "bob set priority from 10 to 20".
import type { AuditEntry } from '@hone/protocol/auth';
import { formatValue } from '@hone/protocol/format';

const VERBS: Record<string, string> = {
  create: 'created the experiment',
  pause: 'paused the experiment',
  activate: 'activated the experiment',
  kill: 'killed the experiment',
  cancel: 'canceled the experiment',
  delete: 'deleted the experiment',
  archive: 'archived the experiment',
  unarchive: 'unarchived the experiment',
};

/** What the entry's user did, as a phrase that follows the user name. */
export function auditAction(e: AuditEntry): string {
  const verb = VERBS[e.action];
  if (verb) return verb;
  // "set priority", "set max_slots" (a config field, said in words); a verb the master learned after this UI was
  // built is said as it is.
  const set = /^set ([a-z_]+)$/.exec(e.action);
  return set ? `set ${set[1]!.replace(/_/g, ' ')}` : e.action;
}

const show = (v: unknown): string => (typeof v === 'string' ? v : formatValue(v));

/** The entry's details in one line: "from 10 to 20", or "key: value" pairs. Plain text, never markup. */
export function auditDetails(e: AuditEntry): string {
  const d = e.details ?? {};
  const keys = Object.keys(d);
  if (keys.length === 0) return '';
  const parts: string[] = [];
  const rest = keys.filter((k) => k !== 'from' && k !== 'to' && k !== 'old' && k !== 'new');
  const from = 'from' in d ? d.from : d.old;
  const to = 'to' in d ? d.to : d.new;
  if (from !== undefined || to !== undefined) parts.push(from !== undefined ? `from ${show(from)} to ${show(to)}` : `to ${show(to)}`);
  for (const k of rest) parts.push(`${k}: ${show(d[k])}`);
  return parts.join(', ');
}
