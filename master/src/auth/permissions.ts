// Who may do what (Determined's open-source model): any signed-in user reads; the owner of an experiment or an
// admin changes it; only admins manage users, agents and pools. Refusals name what is missing.
import { HoneError } from '../errors';
import type { UserIdentity } from './userAuth';

export function requireAdmin(user: UserIdentity, what: string): void {
  if (!user.admin) throw new HoneError('PERMISSION_DENIED', `only an admin may ${what} (you are signed in as ${user.username})`);
}

export function requireOwnerOrAdmin(user: UserIdentity, owner: string, what: string): void {
  if (!user.admin && user.username !== owner) {
    throw new HoneError('PERMISSION_DENIED', `only its owner (${owner}) or an admin may ${what} (you are signed in as ${user.username})`);
  }
}
