// Real master and agent processes for end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Proc {
  child: ChildProcess;
  output: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function startProc(args: string[], env: Record<string, string> = {}, name = 'proc', nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, HONE_LOG_LEVEL: process.env.HONE_TEST_LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      for (const l of d.split('\n')) if (l) output.push(l);
      if (output.length > 5000) output.splice(0, output.length - 5000);
      if (process.env.HONE_TEST_VERBOSE) process.stderr.write(`[${name}] ${d}`);
    });
  }
  return {
    child,
    output,
    kill: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, 10_000).unref();
      }),
  };
}

export interface MasterProc extends Proc {
  url: string;
  port: number;
  /** A session of the admin user, also used by `api()` and `runCli()` for this URL. */
  token: string;
}

/** Password of the admin user that test masters create (HONE_ADMIN_PASSWORD). */
export const TEST_ADMIN_PASSWORD = 'test-admin-password';

/** Sessions by master URL: `api()` and `runCli()` sign their requests with the one of their master. */
const tokens = new Map<string, string>();

/** Signs in to a master as `username` and makes that session the one `api()` and `runCli()` use for its URL. */
export async function signIn(url: string, username = 'admin', password = TEST_ADMIN_PASSWORD): Promise<string> {
  const r = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await r.json()) as { token?: string; error?: { message: string } };
  if (!r.ok || !body.token) throw new Error(`sign-in to ${url} as ${username} failed: ${r.status} ${body.error?.message ?? ''}`);
  tokens.set(url.replace(/\/$/, ''), body.token);
  return body.token;
}

export function tokenFor(url: string): string | undefined {
  return tokens.get(url.replace(/\/$/, ''));
}

/** `nodeArgs`: options for Node itself (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
export async function startMasterProcess(opts: { dataDir: string; dbUrl?: string; port?: number; args?: string[]; env?: Record<string, string>; nodeArgs?: string[] }): Promise<MasterProc> {
  const args = ['master/src/main.ts', '--port', String(opts.port ?? 0), '--data-dir', opts.dataDir, ...(opts.dbUrl ? ['--db-url', opts.dbUrl] : []), ...(opts.args ?? [])];
  const p = startProc(args, { HONE_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, ...opts.env }, 'master', opts.nodeArgs);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`master did not start in 90 s:\n${p.output.join('\n')}`)), 90_000);
    const check = () => {
      const line = p.output.find((l) => l.startsWith('Master listening at '));
      if (line) {
        clearTimeout(timer);
        resolve(line.slice('Master listening at '.length).trim());
        return;
      }
      if (p.child.exitCode !== null) {
        clearTimeout(timer);
        reject(new Error(`master exited with ${p.child.exitCode}:\n${p.output.join('\n')}`));
        return;
      }
      setTimeout(check, 50);
    };
    check();
  });
  return { ...p, url, port: Number(new URL(url).port), token: await signIn(url) };
}

/**
 * A real agent. A test agent stopped with SIGTERM takes its ranks with it (HONE_AGENT_STOP_TASKS_ON_EXIT), so that no
 * test leaves trials running; pass `env: { HONE_AGENT_STOP_TASKS_ON_EXIT: '0' }` to keep them (restart tests).
 */
export function startAgentProcess(opts: { masterUrl: string; id: string; slots?: number; pool?: string; workDir: string; env?: Record<string, string> }): Proc {
  return startProc(
    ['agent/src/main.ts', '--master', opts.masterUrl, '--id', opts.id, '--slots', String(opts.slots ?? 1), '--pool', opts.pool ?? 'default', '--work-dir', opts.workDir, '--no-gpus'],
    { HONE_AGENT_STOP_TASKS_ON_EXIT: '1', ...opts.env },
    `agent ${opts.id}`,
  );
}

/** A TCP port free on 127.0.0.1 right now: for a master that must come back on the same port after a restart. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `hone-${prefix}-`));
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/**
 * Calls the master's REST API, signed with the session `signIn` made for that master (if any; pass
 * `{ token: null }` to call it anonymously, or another token).
 */
export async function api<T = any>(base: string, method: string, p: string, body?: unknown, opts: { token?: string | null } = {}): Promise<{ status: number; body: T }> {
  const token = opts.token === undefined ? tokenFor(base) : opts.token;
  const res = await fetch(`${base}/api/v1${p}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Runs the hone CLI and returns its output. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  // Signed in as the test session of the master it talks to (-m URL), unless the caller says otherwise.
  const m = args.indexOf('-m');
  const token = m >= 0 ? tokenFor(args[m + 1] ?? '') : undefined;
  const auth: Record<string, string> = token && env.HONE_TOKEN === undefined ? { HONE_TOKEN: token } : {};
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/src/main.ts', ...args], { cwd: ROOT, env: { ...process.env, ...auth, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
