// Shared browser plumbing for the web UI tests and benchmark: Chromium discovery, a fresh build, a fake agent.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from './master';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// LocalNetworkAccessChecks: the tests fulfil page documents themselves (session.ts adds a strict CSP to them), and
// Chromium counts a fulfilled document as public, refusing its WebSocket to the loopback master. A page the
// master serves itself is same-origin and never meets the check.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-features=LocalNetworkAccessChecks'];

/** Why browser tests cannot run here, or null when they can. */
export function browserUnavailable(): string | null {
  return fs.existsSync(CHROMIUM_PATH) ? null : `no Chromium at ${CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH)`;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/** Builds webui/dist when it is missing or older than the sources, so tests never exercise a stale bundle. */
export function ensureBuilt(): void {
  const webui = path.join(REPO_ROOT, 'webui');
  const index = path.join(webui, 'dist/index.html');
  const srcTime = Math.max(newestMtime(path.join(webui, 'src')), newestMtime(path.join(webui, 'public')), fs.statSync(path.join(webui, 'index.html')).mtimeMs, fs.statSync(path.join(webui, 'vite.config.ts')).mtimeMs);
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= srcTime) return;
  const local = path.join(webui, 'node_modules/vite/bin/vite.js');
  const vite = fs.existsSync(local) ? local : path.join(REPO_ROOT, 'node_modules/vite/bin/vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: webui, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}\n${r.stderr}`);
}

/** A minimal agent on the real /agents socket: says hello, re-adopts `running`, acknowledges starts and kills. */
export async function fakeAgent(masterUrl: string, opts: { id: string; gpus: number; running?: Array<{ allocationId: string; rank: number; pid: number }> }): Promise<{ close: () => void }> {
  const ws = new WebSocket(`${masterUrl.replace(/^http/, 'ws')}/agents`);
  await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
  const devices = Array.from({ length: opts.gpus }, (_, i) => ({ id: i, type: 'gpu', brand: 'NVIDIA A100-SXM4-40GB', uuid: `GPU-${opts.id}-${i}` }));
  ws.send(JSON.stringify({ type: 'hello', agentId: opts.id, resourcePool: 'default', devices, running: opts.running ?? [], version: '0.1.0', hostname: `${opts.id}.cluster.local` }));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { type: string; allocationId?: string; rank?: number };
    if (m.type === 'startTask') ws.send(JSON.stringify({ type: 'taskState', allocationId: m.allocationId, rank: m.rank, state: 'running' }));
    if (m.type === 'signalTask') ws.send(JSON.stringify({ type: 'taskState', allocationId: m.allocationId, rank: m.rank ?? 0, state: 'exited', exitCode: 137, signal: 'SIGKILL' }));
  });
  const hb = setInterval(() => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'heartbeat', time: Date.now() })), 5000);
  return { close: () => (clearInterval(hb), ws.close()) };
}
