// `npm start`: a local cluster — the master (embedded database under --data-dir) and one agent whose slots
// are this machine's GPUs, or --slots CPU slots when there are none. Ctrl-C stops both.
// The master needs a sign-in, so the first start makes the `admin` password (or takes HONE_ADMIN_PASSWORD) and
// keeps it in the data directory; every start signs the local CLI in as admin with it, so that `npx hone`
// works in the next terminal without a login, and says how to sign in to the web UI.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lookupUser, probeReadable } from '../agent/src/runAs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { LoginResult } from '@hone/protocol/auth';
import { generatePassword } from '../master/src/auth/passwords';
import { authFilePath, findSession, readAuthFile, saveSession, type AuthEntry } from '../cli/src/auth-file';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.HONE_PORT ?? '8080' },
    slots: { type: 'string' },
    'data-dir': { type: 'string', default: process.env.HONE_DATA_DIR ?? path.join(root, '.hone') },
    'db-url': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`npm start -- [--port 8080] [--slots N] [--data-dir .hone] [--db-url postgres://...]

Starts a master and one agent on this machine. The database lives in --data-dir (kept across restarts)
unless --db-url (or HONE_DB_URL) names a PostgreSQL. The first start makes the password of the user admin
(or takes HONE_ADMIN_PASSWORD) and keeps it in <data-dir>/admin-password; each start signs the local CLI in
as admin for the master's URL ($HONE_AUTH_FILE, else ~/.hone/auth.json).`);
  process.exit(0);
}
// The web UI is served from webui/dist: build it on first start (or after `git pull` changed its sources).
function uiIsStale(): boolean {
  const index = path.join(root, 'webui/dist/index.html');
  if (!fs.existsSync(index)) return true;
  const built = fs.statSync(index).mtimeMs;
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).mtimeMs), 0);
  return newest(path.join(root, 'webui/src')) > built;
}
if (uiIsStale()) {
  console.log('building the web UI (first start) ...');
  const r = spawnSync('npm', ['run', 'build', '-w', 'webui', '--silent'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) console.error('the web UI did not build; the API still works (see the output above)');
}

// `npx hone` runs the bundled CLI when it is current (fast start); bundle it now if a source changed (well under a second).
const cliBuild = spawnSync(process.execPath, [path.join(root, 'cli/scripts/build.js')], { cwd: root, stdio: 'inherit' });
if (cliBuild.status !== 0) console.error('the CLI did not build; `npx hone` still works, from its TypeScript sources (slower to start)');

const dataDir = path.resolve(values['data-dir']!);
fs.mkdirSync(dataDir, { recursive: true });
// One agent token per data directory, so only our agent joins this master.
const tokenFile = path.join(dataDir, 'agent-token');
if (!fs.existsSync(tokenFile)) fs.writeFileSync(tokenFile, crypto.randomBytes(24).toString('base64url'), { mode: 0o600 });
const token = fs.readFileSync(tokenFile, 'utf8').trim();

// The admin's password, kept beside the database it belongs to (readable by this user only). The master uses it
// only when it creates the admin user, on its first start with this database.
const passwordFile = path.join(dataDir, 'admin-password');
const keptPassword = fs.existsSync(passwordFile) ? fs.readFileSync(passwordFile, 'utf8').trim() : '';
const newPassword = !keptPassword;
const adminPassword = process.env.HONE_ADMIN_PASSWORD || keptPassword || generatePassword();
if (newPassword) fs.writeFileSync(passwordFile, adminPassword + '\n', { mode: 0o600 });

const children: ChildProcess[] = [];
function run(name: string, args: string[], onLine?: (l: string) => void, env: Record<string, string> = {}): ChildProcess {
  const { HONE_ADMIN_PASSWORD: _p, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env: { ...inherited, HONE_AGENT_TOKEN: token, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  for (const s of [child.stdout!, child.stderr!]) {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onLine?.(line);
        if (!values.quiet) process.stdout.write(`[${name}] ${line}\n`);
      }
    });
  }
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`${name} exited with ${code}; stopping the local cluster`);
      void stop(1);
    }
  });
  return child;
}

let stopping = false;
async function stop(code = 0): Promise<void> {
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const masterArgs = ['master/src/main.ts', '--port', values.port!, '--data-dir', dataDir];
const dbUrl = values['db-url'] ?? process.env.HONE_DB_URL;
if (dbUrl) masterArgs.push('--db-url', dbUrl);
/** A POST to the master's API with a JSON body, signed with `token` if given; a failed connection is thrown. */
async function post(url: string, route: string, body: unknown, token?: string): Promise<{ status: number; body: Partial<LoginResult> & { error?: { message?: string } } }> {
  const res = await fetch(`${url}/api/v1${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Partial<LoginResult> };
}

/** Whether `token` is a working session on the master at `url`. */
async function works(url: string, token: string): Promise<boolean> {
  return (await fetch(`${url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).ok;
}

/**
 * Signs the local CLI in to the master at `url` as admin (the auth file's entry for that URL), unless it is
 * signed in there as someone else whose session still works (a developer trying out another user's rights).
 * Returns what to tell the user: where the CLI stands, and how to sign in to the web UI.
 */
async function signInLocalCli(url: string): Promise<{ cli: string; webui: string }> {
  const login = `npx hone -m ${url} user login admin`;
  const file = authFilePath();
  const withPassword = !newPassword
    ? `the password in ${passwordFile}`
    : process.env.HONE_ADMIN_PASSWORD
      ? `the password of HONE_ADMIN_PASSWORD (kept in ${passwordFile})`
      : `password ${adminPassword} (kept in ${passwordFile})`;
  const webui = `Web UI: open ${url}/ and sign in as admin with ${withPassword}.`;
  let kept: AuthEntry | undefined;
  try {
    kept = findSession(readAuthFile(file), url);
    if (kept && kept.username !== 'admin' && (await works(url, kept.token))) {
      return { cli: `The CLI stays signed in as ${kept.username} for ${url} (${file}); \`${login}\` signs it in as admin.`, webui };
    }
    const r = await post(url, '/auth/login', { username: 'admin', password: adminPassword });
    if (r.status === 200 && r.body.token) {
      const previous = saveSession(url, { token: r.body.token, username: 'admin' }, file);
      // The session it replaces would otherwise live on, unused, for days.
      if (previous && previous.token !== r.body.token) await post(url, '/auth/logout', {}, previous.token).catch(() => undefined);
      return { cli: `The CLI is signed in as admin for ${url} (${file}).`, webui };
    }
    if (r.status !== 401) return { cli: `The CLI is not signed in (${r.body.error?.message ?? `HTTP ${r.status}`}): run \`${login}\`.`, webui };
  } catch (e) {
    return { cli: `The CLI is not signed in (${(e as Error).message}): run \`${login}\`.`, webui };
  }
  // The kept password does not sign in.
  let why: string;
  if (newPassword) {
    // The database had its admin before this data directory kept a password: this one was never used.
    fs.rmSync(passwordFile, { force: true });
    why = `the admin user was made before ${passwordFile} kept its password (the master printed it then)`;
  } else {
    why = `the admin password kept in ${passwordFile} no longer works (changed with \`hone user change-password\`?)`;
  }
  const stillSignedIn = kept ? await works(url, kept.token).catch(() => false) : false;
  return {
    cli: stillSignedIn
      ? `The CLI stays signed in as ${kept!.username} for ${url} (${file}): ${why}.`
      : `The CLI is not signed in: ${why}; run \`${login}\`.`,
    webui: `Web UI: open ${url}/ and sign in as admin with its current password.`,
  };
}

run(
  'master',
  masterArgs,
  (line) => {
    const m = /^Master listening at (\S+)/.exec(line);
    if (!m) return;
    const url = m[1]!;
    // Stopping the local cluster stops its trials too (a standalone agent leaves them running for its restart).
    const agentArgs = ['agent/src/main.ts', '--master', url, '--id', 'local-agent', '--work-dir', path.join(dataDir, 'agent-work'), '--stop-tasks-on-exit'];
    if (values.slots) agentArgs.push('--slots', values.slots);
    const fallback = localRunAsFallback();
    if (fallback) {
      console.warn(`hone: ${fallback}`);
      agentArgs.push('--run-as', 'root');
    }
    run('agent', agentArgs);
    void signInLocalCli(url).then(({ cli, webui }) => {
      console.log(
        `\nHone is running. Master: ${url}\n` +
          `${webui}\n` +
          `${cli}\n` +
          `Try: npx hone -m ${url} experiment create examples/synthetic/random.yaml examples/synthetic --follow\n`,
      );
    });
  },
  { HONE_ADMIN_PASSWORD: adminPassword },
);

/**
 * The local cluster's agent runs as this user; as root it starts trial ranks as `nobody`, which must read this
 * checkout. A checkout under a private directory (e.g. /root) cannot be: on this loopback-only development
 * cluster, trials then run as root, with a warning saying why and how to avoid it. Null when nothing changes.
 */
function localRunAsFallback(): string | null {
  if (process.getuid?.() !== 0 || process.env.HONE_AGENT_RUN_AS) return null;
  let problem: string | null;
  try {
    problem = probeReadable(lookupUser('nobody'), [path.join(root, 'harness/src/main.ts'), path.join(root, 'node_modules/tsx/package.json')]);
  } catch (e) {
    problem = (e as Error).message;
  }
  if (!problem) return null;
  return `the user nobody cannot read this checkout (${problem}), so this local cluster runs trials as root; to run them unprivileged, put Hone where nobody can read it, or set HONE_AGENT_RUN_AS to a user who can`;
}
