// The agent daemon: one WebSocket to the master; launches harness ranks as child processes, ships their
// output as log batches, reports exits, and reconnects with backoff when the master goes away — reporting the
// tasks it still runs so the master can re-adopt them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import * as tar from 'tar';
import WebSocket from 'ws';
import pino from 'pino';
import type { AgentToMaster, Device, LogLine, MasterToAgent, RunningTask, StartTask } from '@hone/protocol';
import { checkMasterMessage, MAX_AGENT_FRAME_BYTES } from '@hone/protocol/agentSchemas';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** tsx's loader by absolute URL: `--import tsx` would resolve from the child's cwd, which may not see it. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json').replace(/package\.json$/, 'dist/loader.mjs')).href;

export interface AgentOptions {
  masterUrl: string;
  agentId: string;
  resourcePool: string;
  devices: Device[];
  workDir: string;
  token?: string;
  /** Harness entry script; default: this checkout's harness/src/main.ts run through tsx. */
  harnessMain?: string;
  /** node_modules that user code resolves '@tensorflow/tfjs' and '@hone/harness' from. */
  nodeModules?: string;
  logLevel?: string;
  /** Keep work directories after tasks end (debugging). */
  keepWorkDirs?: boolean;
  /** Address other agents' ranks use to reach this machine's ranks (ring all-reduce). */
  advertiseHost?: string;
  /** Keep one harness process started ahead of time (modules loaded) to cut task start-up. Default true. */
  prewarm?: boolean;
}

/** The address peers should use for ranks on this machine: loopback for a local master, else a LAN IPv4. */
export function defaultAdvertiseHost(masterUrl: string): string {
  let host = '';
  try {
    host = new URL(masterUrl).hostname;
  } catch {
    // fall through
  }
  if (host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.')) return '127.0.0.1';
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

interface Task {
  key: string;
  start: StartTask;
  child: ChildProcess | null;
  logs: LogLine[];
  /** Bytes of line text in `logs`, so that a batch stays far below the master's frame limit. */
  logBytes: number;
  flushTimer: NodeJS.Timeout | null;
  killTimer: NodeJS.Timeout | null;
  exited: boolean;
  signaled: 'terminate' | 'kill' | null;
}

const MAX_QUEUED = 20_000;
/** Longest log line shipped; longer lines are cut (a runaway print must not make a frame the master refuses). */
const MAX_LINE_CHARS = 64 * 1024;
/** A log batch is sent once it holds this much text. */
const BATCH_BYTES = Math.min(1024 * 1024, MAX_AGENT_FRAME_BYTES / 8);

export class Agent {
  readonly log: pino.Logger;
  private ws: WebSocket | null = null;
  private readonly tasks = new Map<string, Task>();
  /** Messages that must reach the master (exits, logs) wait here while it is away. */
  private readonly outbox: AgentToMaster[] = [];
  private backoffMs = 250;
  private stopped = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private warm: { child: ChildProcess; ready: boolean } | null = null;
  private warmTimer: NodeJS.Timeout | null = null;
  connected = false;

  constructor(readonly opts: AgentOptions) {
    this.log = pino({ level: opts.logLevel ?? 'info', base: { component: 'agent', agent: opts.agentId } });
    fs.mkdirSync(opts.workDir, { recursive: true });
  }

  start(): void {
    this.connect();
    this.scheduleWarm(0);
    this.heartbeat = setInterval(() => this.sendNow({ type: 'heartbeat', time: Date.now() }), 5000);
  }

  async stop(opts: { killTasks?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.warmTimer) clearTimeout(this.warmTimer);
    if (this.warm) {
      this.warm.child.kill('SIGKILL');
      this.warm = null;
    }
    if (opts.killTasks !== false) {
      const waits: Promise<void>[] = [];
      for (const t of this.tasks.values()) {
        if (t.child && !t.exited) {
          waits.push(new Promise((r) => t.child!.once('exit', () => r())));
          this.signal(t, 'kill');
        }
      }
      await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
    }
    this.ws?.close(1000, 'agent stopping');
  }

  private connect(): void {
    if (this.stopped) return;
    const url = this.opts.masterUrl.replace(/^http/, 'ws').replace(/\/$/, '') + '/agents';
    const ws = new WebSocket(url, { headers: this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}, handshakeTimeout: 10_000 });
    this.ws = ws;
    ws.on('open', () => {
      this.connected = true;
      this.backoffMs = 250;
      this.log.info({ master: this.opts.masterUrl }, 'connected to master');
      const running: RunningTask[] = [...this.tasks.values()]
        .filter((t) => t.child && !t.exited)
        .map((t) => ({ allocationId: t.start.allocationId, rank: t.start.rank, pid: t.child!.pid ?? 0 }));
      this.sendNow({
        type: 'hello',
        agentId: this.opts.agentId,
        resourcePool: this.opts.resourcePool,
        devices: this.opts.devices,
        running,
        version: '0.1.0',
        hostname: os.hostname(),
      });
      this.flushOutbox();
    });
    ws.on('message', (data) => {
      const checked = checkMasterMessage(String(data));
      if (!checked.ok) {
        // A master of another version, or a bug: say what was wrong and keep the connection (nothing to act on).
        this.log.error({ reason: checked.reason }, 'ignored a master message that does not match the protocol');
        return;
      }
      const msg: MasterToAgent = checked.message;
      void this.handle(msg).catch((e) => this.log.error({ err: (e as Error).message }, 'failed to handle master message'));
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.connected = false;
      this.ws = null;
      if (this.stopped) return;
      if (code === AGENT_CLOSE_CODES.UNAUTHENTICATED) this.log.error('the master refused our agent token');
      if (code === AGENT_CLOSE_CODES.INVALID_MESSAGE) this.log.error({ reason: String(reason) }, 'the master refused a message of ours as malformed');
      const wait = Math.min(10_000, this.backoffMs) * (0.75 + Math.random() * 0.5);
      this.backoffMs = Math.min(10_000, this.backoffMs * 2);
      this.log.warn({ code, reason: String(reason), retryInMs: Math.round(wait) }, 'lost the master; reconnecting');
      this.reconnectTimer = setTimeout(() => this.connect(), wait);
    });
    ws.on('error', (e) => this.log.debug({ err: e.message }, 'websocket error'));
  }

  private sendNow(msg: AgentToMaster): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Sends now, or keeps it for when the master is back. Old log batches are dropped first when the queue is full. */
  private send(msg: AgentToMaster): void {
    if (this.outbox.length === 0 && this.sendNow(msg)) return;
    this.outbox.push(msg);
    if (this.outbox.length > MAX_QUEUED) {
      const i = this.outbox.findIndex((m) => m.type === 'logBatch');
      if (i >= 0) this.outbox.splice(i, 1);
    }
    this.flushOutbox();
  }

  private flushOutbox(): void {
    while (this.outbox.length && this.sendNow(this.outbox[0]!)) this.outbox.shift();
  }

  private async handle(msg: MasterToAgent): Promise<void> {
    if (msg.type === 'startTask') return this.startTask(msg);
    if (msg.type === 'signalTask') {
      for (const t of this.tasks.values()) if (t.start.allocationId === msg.allocationId) this.signal(t, msg.signal);
    }
  }

  private signal(t: Task, sig: 'terminate' | 'kill'): void {
    t.signaled = sig;
    if (!t.child || t.exited || t.child.pid === undefined) return;
    try {
      // The harness runs in its own process group; signal the whole group.
      process.kill(-t.child.pid, sig === 'kill' ? 'SIGKILL' : 'SIGTERM');
    } catch {
      t.child.kill(sig === 'kill' ? 'SIGKILL' : 'SIGTERM');
    }
    if (sig === 'terminate' && !t.killTimer) t.killTimer = setTimeout(() => this.signal(t, 'kill'), 30_000);
  }

  private async startTask(start: StartTask): Promise<void> {
    const key = `${start.allocationId}/${start.rank}`;
    if (this.tasks.has(key)) return; // de-duplicate a re-sent start
    const task: Task = { key, start, child: null, logs: [], logBytes: 0, flushTimer: null, killTimer: null, exited: false, signaled: null };
    this.tasks.set(key, task);
    const dir = path.join(this.opts.workDir, `${start.allocationId}-r${start.rank}`);
    try {
      await this.prepareDir(dir, start);
    } catch (e) {
      this.pushLog(task, 'stderr', `ERROR agent: could not prepare the model directory: ${(e as Error).message}`);
      this.finish(task, 1, null);
      return;
    }
    if (task.signaled) {
      this.finish(task, null, 'SIGKILL');
      return;
    }
    const gpuIds = start.devices.filter((d) => this.opts.devices.find((x) => x.id === d)?.type === 'gpu');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...start.env,
      HONE_LOCAL_RANK: String(start.rank),
      HONE_AGENT_ID: this.opts.agentId,
      HONE_RING_HOST: this.opts.advertiseHost ?? defaultAdvertiseHost(this.opts.masterUrl),
      CUDA_VISIBLE_DEVICES: gpuIds.join(','),
    };
    let child: ChildProcess;
    const warm = this.takeWarm();
    if (warm) {
      // A pre-warmed harness: hand it the task's environment and directory.
      child = warm;
      const taskEnv: Record<string, string> = {};
      for (const [k, v] of Object.entries(env)) if (v !== undefined && process.env[k] !== v) taskEnv[k] = v;
      child.send({ type: 'start', env: taskEnv, cwd: dir });
      this.scheduleWarm(5000);
    } else {
      const main = this.opts.harnessMain ?? path.join(REPO_ROOT, 'harness/src/main.ts');
      child = spawn(process.execPath, ['--import', TSX_LOADER, main], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    task.child = child;
    this.log.info({ allocation: start.allocationId, rank: start.rank, pid: child.pid, trial: start.trialId, prewarmed: !!warm }, 'task started');
    this.send({ type: 'taskState', allocationId: start.allocationId, rank: start.rank, state: 'running' });
    this.pipeLines(task, child.stdout!, 'stdout');
    this.pipeLines(task, child.stderr!, 'stderr');
    child.on('error', (e) => {
      this.pushLog(task, 'stderr', `ERROR agent: could not start the harness: ${e.message}`);
      this.finish(task, 127, null);
    });
    child.on('exit', (code, signal) => this.finish(task, code, signal));
  }

  /** Starts the pre-warmed harness after `delayMs` (later when a task just started, to leave it the CPU). */
  private scheduleWarm(delayMs: number): void {
    if (this.opts.prewarm === false || this.opts.harnessMain || this.stopped || this.warm || this.warmTimer) return;
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      if (this.stopped || this.warm) return;
      const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(REPO_ROOT, 'harness/src/prewarm.ts')], {
        cwd: this.opts.workDir,
        env: process.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      const w = { child, ready: false };
      this.warm = w;
      child.on('message', (m: { type?: string }) => {
        if (m?.type === 'ready') {
          w.ready = true;
          this.log.debug({ pid: child.pid }, 'pre-warmed harness ready');
        }
      });
      // Until it is given a task its output is ours to drop (it prints nothing when healthy).
      child.stdout!.resume();
      child.stderr!.resume();
      child.once('exit', (code) => {
        this.log.debug({ pid: child.pid, code }, 'pre-warmed harness exited');
        if (this.warm === w) {
          this.warm = null;
          this.scheduleWarm(10_000);
        }
      });
    }, delayMs);
  }

  private takeWarm(): ChildProcess | null {
    const w = this.warm;
    if (!w || !w.ready || w.child.exitCode !== null || !w.child.connected) return null;
    this.warm = null;
    w.child.stdout!.pause();
    w.child.stderr!.pause();
    w.child.removeAllListeners('exit');
    w.child.removeAllListeners('message');
    return w.child;
  }

  private async prepareDir(dir: string, start: StartTask): Promise<void> {
    await fs.promises.rm(dir, { recursive: true, force: true });
    await fs.promises.mkdir(dir, { recursive: true });
    const res = await fetch(start.contextUrl, { headers: { authorization: `Bearer ${start.env.HONE_TASK_TOKEN}` } });
    if (res.status === 200 && res.body) {
      await pipeline(Readable.fromWeb(res.body as any), tar.x({ cwd: dir, strict: true }));
    } else if (res.status !== 204) {
      throw new Error(`GET ${start.contextUrl} answered ${res.status}: ${await res.text()}`);
    }
    // User code imports @tensorflow/tfjs and @hone/harness: resolve them from the harness installation.
    const nm = this.opts.nodeModules ?? path.join(REPO_ROOT, 'node_modules');
    const link = path.join(dir, 'node_modules');
    if (!fs.existsSync(link)) await fs.promises.symlink(nm, link, 'dir');
    // ESM by default so that `import` works in .ts/.js entrypoints without a package.json of their own.
    const pkg = path.join(dir, 'package.json');
    if (!fs.existsSync(pkg)) await fs.promises.writeFile(pkg, JSON.stringify({ type: 'module', private: true }) + '\n');
  }

  private pipeLines(task: Task, stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): void {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.pushLog(task, name, buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      if (buf.length > 64 * 1024) {
        this.pushLog(task, name, buf);
        buf = '';
      }
    });
    stream.on('end', () => {
      if (buf) this.pushLog(task, name, buf);
      buf = '';
    });
    // A pre-warmed harness's streams were paused explicitly; a 'data' listener alone does not restart them.
    stream.resume();
  }

  private pushLog(task: Task, stream: 'stdout' | 'stderr', line: string): void {
    let text = line.replace(/\r$/, '');
    if (text.length > MAX_LINE_CHARS) text = `${text.slice(0, MAX_LINE_CHARS)} … [line cut at ${MAX_LINE_CHARS} characters]`;
    task.logs.push({ rank: task.start.rank, stream, ts: new Date().toISOString(), line: text });
    task.logBytes += text.length;
    if (task.logs.length >= 500 || task.logBytes >= BATCH_BYTES) this.flushLogs(task);
    else if (!task.flushTimer) task.flushTimer = setTimeout(() => this.flushLogs(task), 200);
  }

  private flushLogs(task: Task): void {
    if (task.flushTimer) clearTimeout(task.flushTimer);
    task.flushTimer = null;
    if (!task.logs.length) return;
    const logs = task.logs;
    task.logs = [];
    task.logBytes = 0;
    this.send({ type: 'logBatch', allocationId: task.start.allocationId, trialId: task.start.trialId, logs });
  }

  private finish(task: Task, code: number | null, signal: NodeJS.Signals | null): void {
    if (task.exited) return;
    task.exited = true;
    if (task.killTimer) clearTimeout(task.killTimer);
    // Let the pipes drain before the final log flush.
    setTimeout(() => {
      this.flushLogs(task);
      this.log.info({ allocation: task.start.allocationId, rank: task.start.rank, code, signal }, 'task exited');
      this.send({ type: 'taskState', allocationId: task.start.allocationId, rank: task.start.rank, state: 'exited', exitCode: code, signal });
      this.tasks.delete(task.key);
      if (!this.opts.keepWorkDirs) {
        void fs.promises.rm(path.join(this.opts.workDir, `${task.start.allocationId}-r${task.start.rank}`), { recursive: true, force: true }).catch(() => undefined);
      }
    }, 50);
  }

  /** Tasks this agent is running now (for tests and status). */
  runningTasks(): RunningTask[] {
    return [...this.tasks.values()].filter((t) => !t.exited).map((t) => ({ allocationId: t.start.allocationId, rank: t.start.rank, pid: t.child?.pid ?? 0 }));
  }
}
