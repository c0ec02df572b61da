// The agent daemon: one WebSocket to the master; launches harness ranks as child processes, ships their
// output as log batches, reports exits, and reconnects with backoff when the master goes away — reporting the
// tasks it still runs so the master can re-adopt them.
//
// Security: the agent joins with the cluster agent token once, then presents the credential the master issued it
// (credentials.ts); ranks get an explicit environment (taskEnv.ts), run as an unprivileged user when the agent is
// root (runAs.ts), and model archives are unpacked under limits (extract.ts). With an https master every
// connection verifies its certificate (tls.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import pino from 'pino';
import type { AgentToMaster, Device, LogLine, MasterToAgent, RunningTask, StartTask } from '@hone/protocol';
import { checkMasterMessage, MAX_AGENT_FRAME_BYTES } from '@hone/protocol/agentSchemas';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import { CredentialStore } from './credentials';
import { DEFAULT_EXTRACT_LIMITS, extractModelArchive, type ExtractLimits } from './extract';
import { canTraverse, probeReadable, resolveRunAs, type RunAsUser } from './runAs';
import { baseEnvironment, taskEnvironment } from './taskEnv';
import { get, readCaFile, trustedCas } from './tls';

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
  /**
   * User the ranks run as (`--run-as`). Default: `nobody` when the agent runs as root, else the agent's own user;
   * `root` keeps ranks root (warned about). Only root can name another user.
   */
  runAs?: string;
  /** PEM file of a private CA that signed the master's certificate (`--ca`), trusted besides the system's roots. */
  ca?: string;
  /** Limits on what a model archive may unpack to (default 1 GiB, 20,000 entries). */
  extractLimits?: Partial<ExtractLimits>;
  /** The agent's own environment, from which a trial's basics are taken (default process.env; tests). */
  env?: NodeJS.ProcessEnv;
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
  /** Admitted by the master (its welcome came) on the current connection. */
  connected = false;
  /** Why the master last refused us, if it did (for tests and status). */
  lastRefusal: { code: number; reason: string } | null = null;
  private readonly credentials: CredentialStore;
  /** The secret the master issued to this agent id, presented in every hello. */
  private secret: string | undefined;
  /** Who ranks run as; null: as the agent itself. */
  readonly runAs: RunAsUser | null;
  /** Where task directories go: the work directory, unless the rank user cannot reach it. */
  readonly taskRoot: string;
  private readonly ownTaskRoot: boolean;
  private readonly tlsCa: string[] | undefined;
  /** The CA file the harness trusts (NODE_EXTRA_CA_CERTS): a copy the rank user can read. */
  private readonly harnessCaFile: string | undefined;
  private readonly limits: ExtractLimits;
  private readonly agentEnv: NodeJS.ProcessEnv;

  constructor(readonly opts: AgentOptions) {
    this.log = pino({ level: opts.logLevel ?? 'info', base: { component: 'agent', agent: opts.agentId } });
    this.agentEnv = opts.env ?? process.env;
    this.limits = { ...DEFAULT_EXTRACT_LIMITS, ...(opts.extractLimits ?? {}) };
    fs.mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
    this.credentials = new CredentialStore(opts.workDir);
    try {
      this.secret = this.credentials.load(opts.masterUrl, opts.agentId);
    } catch (e) {
      this.log.error({ file: this.credentials.file, err: (e as Error).message }, 'could not read the agent credential; joining as a new agent');
    }
    this.runAs = resolveRunAs(opts.runAs, (m) => this.log.warn(m));
    let taskRoot = opts.workDir;
    let own = false;
    if (this.runAs) {
      // The rank user must reach its task directory (search permission), not list the work directory; bits that
      // are there already stay (a shared directory given as --work-dir keeps its mode). credential.json is 0600.
      const mode = fs.statSync(opts.workDir).mode & 0o7777;
      if ((mode & 0o001) === 0) fs.chmodSync(opts.workDir, mode | 0o011);
      if (!canTraverse(this.runAs, opts.workDir)) {
        taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), `hone-tasks-${opts.agentId.replace(/[^A-Za-z0-9._-]/g, '_')}-`));
        fs.chmodSync(taskRoot, 0o711);
        own = true;
        this.log.warn(
          { workDir: opts.workDir, taskRoot, user: this.runAs.name },
          `user ${this.runAs.name} cannot reach the work directory (a directory above it is private); task directories go in ${taskRoot}`,
        );
      }
      const harness = opts.harnessMain ?? path.join(REPO_ROOT, 'harness/src/main.ts');
      const nm = opts.nodeModules ?? path.join(REPO_ROOT, 'node_modules');
      const problem = probeReadable(this.runAs, [harness, fileURLToPath(TSX_LOADER), path.join(nm, '@tensorflow/tfjs/package.json')]);
      if (problem) throw new Error(`--run-as ${this.runAs.name}: that user cannot read what a trial needs (${problem}); install Hone where it can, or choose another --run-as`);
      this.log.info({ user: this.runAs.name, uid: this.runAs.uid }, 'trial ranks run as an unprivileged user');
    }
    this.taskRoot = taskRoot;
    this.ownTaskRoot = own;
    if (opts.ca) {
      const pem = readCaFile(opts.ca);
      this.tlsCa = trustedCas(pem);
      this.harnessCaFile = path.join(taskRoot, 'master-ca.pem');
      fs.writeFileSync(this.harnessCaFile, pem, { mode: 0o644 });
      fs.chmodSync(this.harnessCaFile, 0o644);
    }
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
    if (this.ownTaskRoot) await fs.promises.rm(this.taskRoot, { recursive: true, force: true }).catch(() => undefined);
  }

  /** The directory of one rank of one allocation. */
  private taskDir(start: Pick<StartTask, 'allocationId' | 'rank'>): string {
    return path.join(this.taskRoot, `${start.allocationId}-r${start.rank}`);
  }

  private connect(): void {
    if (this.stopped) return;
    const url = this.opts.masterUrl.replace(/^http/, 'ws').replace(/\/$/, '') + '/agents';
    const ws = new WebSocket(url, {
      headers: this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {},
      handshakeTimeout: 10_000,
      ...(this.tlsCa ? { ca: this.tlsCa } : {}),
    });
    this.ws = ws;
    ws.on('open', () => {
      // Connected (and the backoff reset) once the welcome says the master admitted us: it refuses after the open.
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
        ...(this.secret ? { agentSecret: this.secret } : {}),
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
      const refused = code === AGENT_CLOSE_CODES.UNAUTHENTICATED || code === AGENT_CLOSE_CODES.CREDENTIAL_REFUSED;
      if (refused) this.lastRefusal = { code, reason: String(reason) };
      if (code === AGENT_CLOSE_CODES.UNAUTHENTICATED) {
        this.log.error({ reason: String(reason), hasToken: !!this.opts.token }, 'the master refused to admit this agent: a new agent needs the cluster agent token (--token)');
      }
      if (code === AGENT_CLOSE_CODES.CREDENTIAL_REFUSED) {
        this.log.error(
          { reason: String(reason), hasCredential: !!this.secret, credentialFile: this.credentials.file },
          'the master refused our agent credential: another machine may use this agent id, or the credential was lost; an operator resets it by deleting the agent on the master',
        );
      }
      if (code === AGENT_CLOSE_CODES.INVALID_MESSAGE) this.log.error({ reason: String(reason) }, 'the master refused a message of ours as malformed');
      // Refusals will not go away by themselves soon: retry, but more slowly.
      const cap = refused ? 60_000 : 10_000;
      const wait = Math.min(cap, this.backoffMs) * (0.75 + Math.random() * 0.5);
      this.backoffMs = Math.min(cap, this.backoffMs * 2);
      this.log.warn({ code, reason: String(reason), retryInMs: Math.round(wait) }, refused ? 'refused by the master; retrying' : 'lost the master; reconnecting');
      this.reconnectTimer = setTimeout(() => this.connect(), wait);
    });
    ws.on('error', (e) => {
      // A certificate the agent does not trust is worth saying loudly: it will not fix itself.
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) this.log.error({ err: e.message, code, ca: this.opts.ca ?? null }, 'cannot verify the master\'s TLS certificate (give its CA with --ca)');
      else this.log.debug({ err: e.message }, 'websocket error');
    });
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
    if (msg.type === 'welcome') {
      this.connected = true;
      this.lastRefusal = null;
      this.backoffMs = 250;
      if (msg.agentSecret) this.storeSecret(msg.agentSecret);
      return;
    }
    if (msg.type === 'startTask') return this.startTask(msg);
    if (msg.type === 'signalTask') {
      for (const t of this.tasks.values()) if (t.start.allocationId === msg.allocationId) this.signal(t, msg.signal);
    }
  }

  /** Keeps a newly issued credential, in memory and in the work directory (0600). */
  private storeSecret(secret: string): void {
    this.secret = secret;
    try {
      this.credentials.save(this.opts.masterUrl, this.opts.agentId, secret);
      this.log.info({ file: this.credentials.file }, 'the master issued this agent its credential; stored');
    } catch (e) {
      this.log.error(
        { file: this.credentials.file, err: (e as Error).message },
        'could not store the agent credential: after a restart the master will refuse this agent id until an operator deletes it',
      );
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
    const dir = this.taskDir(start);
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
    // Never the agent's environment: its basics, the task's variables, and what the agent sets (taskEnv.ts).
    const env = taskEnvironment({
      agentEnv: this.agentEnv,
      taskEnv: start.env,
      agentSet: {
        HONE_LOCAL_RANK: String(start.rank),
        HONE_AGENT_ID: this.opts.agentId,
        HONE_RING_HOST: this.opts.advertiseHost ?? defaultAdvertiseHost(this.opts.masterUrl),
        CUDA_VISIBLE_DEVICES: gpuIds.join(','),
        ...this.harnessTlsEnv(),
      },
      ...(this.runAs ? { home: dir } : {}),
    });
    let child: ChildProcess;
    const warm = this.takeWarm();
    if (warm) {
      // A pre-warmed harness: hand it the task's whole environment (it replaces its own) and directory.
      child = warm;
      child.send({ type: 'start', env, cwd: dir });
      this.scheduleWarm(5000);
    } else {
      const main = this.opts.harnessMain ?? path.join(REPO_ROOT, 'harness/src/main.ts');
      child = spawn(process.execPath, ['--import', TSX_LOADER, main], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...this.spawnUser() });
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
      // The same basics as a task's harness (never the agent's environment), as the same user.
      const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(REPO_ROOT, 'harness/src/prewarm.ts')], {
        cwd: this.taskRoot,
        env: { ...baseEnvironment(this.agentEnv, this.runAs ? this.taskRoot : undefined), ...this.harnessTlsEnv() },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        ...this.spawnUser(),
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

  /** spawn options that start a harness as the rank user. */
  private spawnUser(): { uid?: number; gid?: number } {
    return this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {};
  }

  /** Read by Node at start-up: the harness's `fetch` then trusts the master's private CA too. */
  private harnessTlsEnv(): Record<string, string> {
    return this.harnessCaFile ? { NODE_EXTRA_CA_CERTS: this.harnessCaFile } : {};
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
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    if (this.runAs) await fs.promises.chown(dir, this.runAs.uid, this.runAs.gid);
    const res = await get(start.contextUrl, { headers: { authorization: `Bearer ${start.env.HONE_TASK_TOKEN}` }, ...(this.tlsCa ? { ca: this.tlsCa } : {}) });
    if (res.status === 200) {
      await extractModelArchive(res.body, dir, { ...this.limits, ...(this.runAs ? { owner: { uid: this.runAs.uid, gid: this.runAs.gid } } : {}) });
    } else if (res.status !== 204) {
      throw new Error(`GET ${start.contextUrl} answered ${res.status}: ${await res.text()}`);
    } else {
      res.body.resume();
    }
    // User code imports @tensorflow/tfjs and @hone/harness: resolve them from the harness installation.
    const nm = this.opts.nodeModules ?? path.join(REPO_ROOT, 'node_modules');
    const link = path.join(dir, 'node_modules');
    await fs.promises.symlink(nm, link, 'dir').catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e; // the model brought its own
    });
    // ESM by default so that `import` works in .ts/.js entrypoints without a package.json of their own.
    // 'wx' never follows a link the archive put there.
    const pkg = path.join(dir, 'package.json');
    const wrote = await fs.promises.writeFile(pkg, JSON.stringify({ type: 'module', private: true }) + '\n', { flag: 'wx', mode: 0o644 }).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
        return false;
      },
    );
    // Whatever the agent's umask, the rank user must read it.
    if (wrote && this.runAs) await fs.promises.chown(pkg, this.runAs.uid, this.runAs.gid);
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
        void fs.promises.rm(this.taskDir(task.start), { recursive: true, force: true }).catch(() => undefined);
      }
    }, 50);
  }

  /** Tasks this agent is running now (for tests and status). */
  runningTasks(): RunningTask[] {
    return [...this.tasks.values()].filter((t) => !t.exited).map((t) => ({ allocationId: t.start.allocationId, rank: t.start.rank, pid: t.child?.pid ?? 0 }));
  }
}
