// Where the CLI keeps its sessions, one per master URL (`AuthFile` in protocol/src/auth.ts): `$HONE_AUTH_FILE`,
// else `~/.hone/auth.json`. The file is readable by its owner only (0600) and a directory made for it is 0700,
// because every entry is a bearer token. Writes go to a file beside it that is renamed over it, so a command
// started meanwhile reads the whole old file or the whole new one, never half of either.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuthFile } from '@hone/protocol/auth';
import { HoneError } from '@hone/protocol/errors';

export type AuthEntry = AuthFile['masters'][string];

/** The auth file's path: HONE_AUTH_FILE, else ~/.hone/auth.json. */
export function authFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.HONE_AUTH_FILE ? path.resolve(env.HONE_AUTH_FILE) : path.join(os.homedir(), '.hone', 'auth.json');
}

/** A master URL as the auth file keys it: with its scheme (http:// when none is given), without a trailing slash. */
export function masterKey(url: string): string {
  const u = url.trim().replace(/\/+$/, '');
  return /^https?:\/\//i.test(u) ? u : `http://${u}`;
}

/** The file's contents; an absent file is an empty one. A file that is not an auth file is an error naming it. */
export function readAuthFile(file = authFilePath()): AuthFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, masters: {} };
    throw new HoneError('INVALID_ARGUMENT', `cannot read the auth file ${file}: ${(e as Error).message}`);
  }
  let parsed: Partial<AuthFile> | null = null;
  try {
    parsed = JSON.parse(text) as Partial<AuthFile>;
  } catch {
    // reported below
  }
  if (!parsed || parsed.version !== 1 || typeof parsed.masters !== 'object' || parsed.masters === null) {
    throw new HoneError('INVALID_ARGUMENT', `the auth file ${file} is not a Hone auth file (expected {"version": 1, "masters": {...}}); remove it and sign in again`);
  }
  return { version: 1, masters: parsed.masters };
}

/** The session kept for `master`, matching keys written with or without a scheme or trailing slash. */
export function findSession(auth: AuthFile, master: string): AuthEntry | undefined {
  const key = masterKey(master);
  const exact = auth.masters[key];
  if (exact) return exact;
  const k = Object.keys(auth.masters).find((m) => masterKey(m) === key);
  return k ? auth.masters[k] : undefined;
}

function writeAuthFile(auth: AuthFile, file: string): void {
  const dir = path.dirname(file);
  // Only a directory made here gets 0700: an existing one (a temporary directory, say) is left as it is.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(auth, null, 2) + '\n', { mode: 0o600 });
  // The mode of an older file of that name (written by hand, say) must not survive the rename either.
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Keeps `entry` as the session for `master` (replacing any older one); returns the previous entry. */
export function saveSession(master: string, entry: AuthEntry, file = authFilePath()): AuthEntry | undefined {
  const auth = readAuthFile(file);
  const previous = findSession(auth, master);
  const key = masterKey(master);
  for (const k of Object.keys(auth.masters)) if (masterKey(k) === key) delete auth.masters[k];
  auth.masters[key] = entry;
  writeAuthFile(auth, file);
  return previous;
}

/** Forgets the session for `master`; returns it, or undefined when there was none (the file is then untouched). */
export function removeSession(master: string, file = authFilePath()): AuthEntry | undefined {
  const auth = readAuthFile(file);
  const previous = findSession(auth, master);
  if (!previous) return undefined;
  const key = masterKey(master);
  for (const k of Object.keys(auth.masters)) if (masterKey(k) === key) delete auth.masters[k];
  writeAuthFile(auth, file);
  return previous;
}
