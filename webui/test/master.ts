// Starts a real master process for browser tests and the benchmark, on a database seeded beforehand.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueryFn } from './seed';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The password of the `admin` user every test master bootstraps (HONE_ADMIN_PASSWORD). */
export const ADMIN_PASSWORD = 'test-admin-password';

export interface RunningMaster {
  url: string;
  dataDir: string;
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

export function tempDataDir(prefix = 'hone-webui-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Opens the master's database directly (before the master starts: PGlite allows one process), seeds it, closes it. */
export async function seedDatabase<T>(dataDir: string, seed: (q: QueryFn) => Promise<T>): Promise<T> {
  const mod = (await import(path.join(REPO_ROOT, 'master/src/db/index.ts'))) as {
    openDatabase: (o: { dataDir?: string; url?: string }) => Promise<{ query: QueryFn; close: () => Promise<void> }>;
  };
  const db = await mod.openDatabase(process.env.HONE_DB_URL ? { url: process.env.HONE_DB_URL } : { dataDir });
  try {
    return await seed((sql, params) => db.query(sql, params));
  } finally {
    await db.close();
  }
}

export async function startMaster(dataDir: string, opts: { timeoutMs?: number; extraArgs?: string[]; port?: number } = {}): Promise<RunningMaster> {
  const args = ['--import', 'tsx', 'master/src/main.ts', '--port', String(opts.port ?? 0), '--data-dir', dataDir, '--webui-dir', path.join(REPO_ROOT, 'webui/dist'), ...(opts.extraArgs ?? [])];
  const env = { ...process.env, HONE_LOG_LEVEL: process.env.HONE_LOG_LEVEL ?? 'warn', HONE_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`master did not start within ${opts.timeoutMs ?? 60_000} ms:\n${out}`)), opts.timeoutMs ?? 60_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /Master listening at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`master exited with ${code} before listening:\n${out}`));
    });
  });
  proc.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-200_000)));
  return {
    url,
    dataDir,
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => (clearTimeout(t), resolve()));
        proc.kill('SIGTERM');
      }),
  };
}

/** Signs in through the API (POST /auth/login) and returns the session token. */
export async function apiLogin(masterUrl: string, username = 'admin', password = ADMIN_PASSWORD): Promise<string> {
  const res = await fetch(`${masterUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await res.json()) as { token?: string; error?: { message: string } };
  if (!res.ok || !body.token) throw new Error(`login as ${username} failed (${res.status}): ${body.error?.message ?? JSON.stringify(body)}`);
  return body.token;
}

/** Creates a user as an admin (POST /users) and returns their session token. */
export async function createUser(masterUrl: string, adminToken: string, username: string, opts: { password?: string; admin?: boolean } = {}): Promise<string> {
  const password = opts.password ?? `${username}-password-1234`;
  const res = await fetch(`${masterUrl}/api/v1/users`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ username, password, admin: opts.admin ?? false }),
  });
  if (!res.ok) throw new Error(`creating user ${username} failed (${res.status}): ${await res.text()}`);
  return apiLogin(masterUrl, username, password);
}
