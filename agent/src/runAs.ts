// The user trial ranks run as. An agent running as root starts them as an unprivileged user (`--run-as`,
// default `nobody`), so that user code can neither read the agent's credential and environment nor touch the
// machine; `--run-as root` keeps them root (with a warning). An agent that is not root runs them as itself
// (switching users needs root).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
}

export const DEFAULT_RUN_AS = 'nobody';

/** Looks a user up by name or numeric id (getent, so LDAP and the like work too). */
export function lookupUser(nameOrId: string): RunAsUser {
  let line = '';
  try {
    line = execFileSync('getent', ['passwd', nameOrId], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim().split('\n')[0] ?? '';
  } catch {
    // getent missing, or no such user: try /etc/passwd
    try {
      line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => {
        const f = l.split(':');
        return f[0] === nameOrId || f[2] === nameOrId;
      }) ?? '';
    } catch {
      line = '';
    }
  }
  const f = line.split(':');
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (f.length < 4 || !Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`--run-as: no user "${nameOrId}" on this machine`);
  return { name: f[0]!, uid, gid };
}

/**
 * Who the ranks run as: null for "as the agent itself". `requested` is `--run-as` (undefined when not given).
 * Throws with a clear message for a user that does not exist, or a switch the agent cannot make.
 */
export function resolveRunAs(requested: string | undefined, warn: (msg: string) => void): RunAsUser | null {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) {
    if (requested === undefined) return null;
    const user = lookupUser(requested);
    if (user.uid === uid) return null;
    throw new Error(`--run-as ${requested}: the agent runs as ${os.userInfo().username}, and only root can start ranks as another user (start the agent as root, or drop --run-as)`);
  }
  const user = lookupUser(requested ?? DEFAULT_RUN_AS);
  if (user.uid === 0) {
    warn('--run-as root: trial ranks run as root and can read the agent credential, its environment and every file of this machine');
    return null;
  }
  return user;
}

/** Whether `user` may enter `dir` (search permission on it and every directory above it), from the mode bits. */
export function canTraverse(user: RunAsUser, dir: string): boolean {
  let d = path.resolve(dir);
  for (;;) {
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch {
      return false;
    }
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return false;
    const up = path.dirname(d);
    if (up === d) return true;
    d = up;
  }
}

/**
 * Checks, as `user`, that it can read the files a harness needs (the harness sources, node_modules): a
 * checkout under a private home directory would make every trial fail with a confusing import error.
 * Returns null when it can, else what went wrong.
 */
export function probeReadable(user: RunAsUser, files: string[]): string | null {
  const script = `const fs=require('fs');for(const f of JSON.parse(process.argv[1])){try{fs.accessSync(f,fs.constants.R_OK)}catch(e){console.log(f+': '+e.code);process.exit(1)}}`;
  const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(files)], {
    uid: user.uid,
    gid: user.gid,
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error) return r.error.message;
  if (r.status !== 0) return (r.stdout || r.stderr || `exit ${r.status}`).trim();
  return null;
}
