// Who may change an experiment, as the master decides it (Determined's open-source model): any signed-in user
// reads; its owner or an admin pauses, activates, kills or reschedules it. The UI only explains the rule ahead of
// time; the master enforces it (403 PERMISSION_DENIED), and the UI shows that answer as a message.
import type { UserInfo } from '@hone/protocol/auth';

export type ExperimentVerb = 'pause' | 'activate' | 'kill' | 'archive' | 'unarchive' | 'edit' | 'delete' | 'kill trials of';

export type Permission = { ok: true } | { ok: false; reason: string };

/** Whether `user` may `verb` an experiment owned by `owner`; an unknown user (not loaded yet) may, as far as the UI knows. */
export function mayChangeExperiment(user: UserInfo | null, owner: string, verb: ExperimentVerb): Permission {
  if (!user || user.admin || user.username === owner) return { ok: true };
  return { ok: false, reason: `Only the owner (${owner}) or an admin can ${verb} this experiment; you are signed in as ${user.username}.` };
}
