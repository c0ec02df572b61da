// The first user: a master whose database has no user creates `admin` (an admin), with the configured password
// or a generated one that is shown once. Later starts change nothing.
import type { Database } from '../db';
import { countUsers, insertUser } from '../db/users';
import { generatePassword, hashPassword } from './passwords';

export async function ensureAdmin(db: Database, password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
  if ((await countUsers(db)) > 0) return { created: false };
  const generatedPassword = password ? undefined : generatePassword();
  const created = await insertUser(db, { username: 'admin', passwordHash: await hashPassword(password ?? generatedPassword!), admin: true });
  return created ? { created: true, ...(generatedPassword ? { generatedPassword } : {}) } : { created: false };
}
