// The agent daemon: one WebSocket to the master; launches harness ranks as child processes, ships their
// output as log batches, reports exits, and reconnects with backoff when the master goes away — reporting the
// tasks it still runs so the master can re-adopt them.
//
// Ranks outlive the agent. Each runs detached (its own session) under a small wrapper (rankWrapper.mjs) that
// records its exit code in the rank's run directory, with stdout and stderr going to files there, which the agent
// tails. The run directory (<work-dir>/ranks/<allocation>-r<rank>.run) also holds rank.json: the allocation, rank, the
// wrapper's pid and start time (procIdentity.ts: a recycled pid is never taken for a rank) and the log offsets the
// master acknowledged. A restarted agent with the same work directory scans them: live ranks are adopted (logs
// resume where the master's acknowledgement and the persisted outbox say, so no line is lost or repeated) and
// reported in the hello; ranks that died meanwhile are reported with their recorded exit codes. Everything that
// must reach the master goes through the persisted outbox (outbox.ts) until the master acknowledges it.
//
// Security: the agent joins with the cluster agent token once, then presents the credential the master issued it
// (credentials.ts); ranks get an explicit environment (taskEnv.ts), run as an unprivileged user when the agent is
// root (runAs.ts), and model archives are unpacked under limits (extract.ts). With an https master every
// connection verifies its certificate (tls.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import pino from 'pino';
import type { AgentToMaster, Device, LogLine, MasterToAgent, RunningTask, StartTask } from '@hone/protocol';
import { Outbox, type Outgoing, type Sequenced } from './outbox';
import { isSameProcess, processStartTimeSync } from './procIdentity';
import { checkMasterMessage, MAX_AGENT_FRAME_BYTES } from '@hone/protocol/agentSchemas';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import { CredentialStore } from './credentials';
import { DEFAULT_EXTRACT_LIMITS, extractModelArchive, type ExtractLimits } from './extract';
import { canTraverse, probeReadable, resolveRunAs, type RunAsUser } from './runAs';
import { baseEnvironment, taskEnvironment } from './taskEnv';
import { builtHarness } from './harnessBundle';
import { get, readCaFile, trustedCas } from './tls';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** tsx's loader by absolute URL: `--import tsx` would resolve from the child's cwd, which may not see it. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json').replace(/package\.json$/, 'dist/loader.mjs')).href;
/** The wrapper every rank runs under (plain JavaScript: no loader). */
export const RANK_WRAPPER = fileURLToPath(new URL('./rankWrapper.mjs', import.meta.url));

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
  /**
   * Keep harness processes started ahead of time (modules loaded), one per slot, to cut task start-up, and let a
   * single-rank trial's process run the next trial of the same experiment on the same devices (warm.ts). Default true.
   */
  prewarm?: boolean;
  /** How long a harness that finished a trial waits for the next one of its experiment, ms (default 30,000). */
  reuseIdleMs?: number;
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
  /** How often rank output files are read and adopted ranks checked, ms (default 250). */
  pollMs?: number;
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

type Stream = 'stdout' | 'stderr';

/** What the agent keeps of a rank in its run directory (rank.json), so that a restarted agent can adopt it. */
export interface RankRecord {
  allocationId: string;
  rank: number;
  trialId: number;
  /** The model directory the rank runs in. */
  taskDir: string;
  /** The wrapper's pid and start time (/proc/<pid>/stat field 22): together, the rank's identity. */
  pid: number;
  startTime: string;
  /** Byte offsets of the output files up to which the master acknowledged storing the lines. */
  acked: Record<Stream, number>;
  /** A pre-warmed harness's control directory (warm.ts: done.json, idle, start.json), when it runs in one. */
  ctlDir?: string;
}

interface Task {
  key: string;
  start: Pick<StartTask, 'allocationId' | 'rank' | 'trialId'>;
  taskDir: string;
  /** The run directory (output files, rank.json, exit.json); null until the rank is started. */
  runDir: string | null;
  record: RankRecord | null;
  /** The wrapper, when this agent process started it (an adopted rank has none: it is watched by pid). */
  child: ChildProcess | null;
  /** Byte offsets of the output files up to which lines are queued in the outbox. */
  shipped: Record<Stream, number>;
  killTimer: NodeJS.Timeout | null;
  exited: boolean;
  signaled: 'terminate' | 'kill' | null;
  adopted: boolean;
  /**
   * The experiment and GPUs (for handing the process the next trial), and whether it may run one. Only GPUs count:
   * a process that initialised a GPU backend is bound to the devices it saw, while CPU slots are interchangeable
   * (a CPU trial's process may take the next CPU trial on any slot).
   */
  experimentId: number;
  devicesKey: string;
  reuse: boolean;
  /** This task's listeners on the wrapper (removed when the process goes on to another trial). */
  listeners: { exit: (code: number | null, signal: NodeJS.Signals | null) => void; error: (e: Error) => void } | null;
  watcher: fs.FSWatcher | null;
}

/** A harness process with modules loaded, waiting for a task: pre-warmed (IPC start) or done with a trial (start.json). */
interface WarmProcess {
  child: ChildProcess;
  ready: boolean;
  runDir: string;
  /** Its control directory (warm.ts), under the task root: the rank's user writes there. */
  ctlDir: string;
  pid: number;
  startTime: string;
  /** Set for a process that finished a trial of this experiment on these devices and waits for the next. */
  reusable: { experimentId: number; devicesKey: string } | null;
}

/** Longest log line shipped; longer lines are cut (a runaway print must not make a frame the master refuses). */
const MAX_LINE_CHARS = 64 * 1024;
/** Most bytes of output read into one log batch (far below the master's frame limit). */
export const BATCH_BYTES = Math.min(1024 * 1024, MAX_AGENT_FRAME_BYTES / 8);
/** Most lines in one log batch (the master accepts 10,000). */
const BATCH_LINES = 5000;
/** Output files are not read further while this many messages wait for an acknowledgement. */
const MAX_UNACKED = 2000;
/** Unacknowledged messages are sent again after this long without an acknowledgement. */
const RESEND_MS = 5000;

/** Complete lines of `buf` (from byte `from` of its file), at most BATCH_LINES; `final` takes a last partial line too. */
export function splitLines(buf: Buffer, final: boolean): { lines: string[]; used: number } {
  const lines: string[] = [];
  let at = 0;
  while (lines.length < BATCH_LINES) {
    const nl = buf.indexOf(10, at);
    if (nl < 0) {
      // A line longer than MAX_LINE_CHARS with no end yet is shipped as it is (cut below), like a final partial one.
      if (at < buf.length && (final || buf.length - at >= MAX_LINE_CHARS)) {
        lines.push(buf.toString('utf8', at));
        at = buf.length;
      }
      break;
    }
    lines.push(buf.toString('utf8', at, nl));
    at = nl + 1;
  }
  return { lines, used: at };
}

/** Complete lines of an output file, bytes [from, to) of it. */
export interface OutputBatch {
  lines: string[];
  from: number;
  to: number;
}

/**
 * The output in bytes [from, size) of the file open at `fd`, as batches of at most BATCH_BYTES and BATCH_LINES.
 * Complete lines only, and `final` (the rank exited) also takes the unfinished last line of the file. A batch ends
 * where a line ends, not where a read of BATCH_BYTES does: a line across that boundary stays one line, and a
 * multi-byte character is not cut in two. (A line of MAX_LINE_CHARS or more with no end yet is the exception:
 * splitLines ships it as it is.)
 */
export function readOutputBatches(fd: number, from: number, size: number, final: boolean): OutputBatch[] {
  const out: OutputBatch[] = [];
  while (from < size) {
    const buf = Buffer.alloc(Math.min(BATCH_BYTES, size - from));
    const n = fs.readSync(fd, buf, 0, buf.length, from);
    if (n <= 0) break;
    const { lines, used } = splitLines(buf.subarray(0, n), final && from + n >= size);
    if (!used) break;
    out.push({ lines, from, to: from + used });
    from += used;
  }
  return out;
}

export class Agent {
  readonly log: pino.Logger;
  private ws: WebSocket | null = null;
  private readonly tasks = new Map<string, Task>();
  /** Messages that must reach the master (exits, logs, starts) wait here until it acknowledges them. */
  readonly outbox: Outbox;
  /** The master acknowledges what it stored (an older master does not: then sent counts as delivered). */
  private masterAcks = false;
  private lastAckOrSend = 0;
  private poller: NodeJS.Timeout | null = null;
  private polling = false;
  /** Where run directories go: <work-dir>/ranks. */
  readonly ranksDir: string;
  private backoffMs = 250;
  private stopped = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Pre-warmed harnesses (up to one per slot, counting the reusable ones) and processes waiting to be reused. */
  private readonly warm: WarmProcess[] = [];
  private readonly idle: WarmProcess[] = [];
  private warmTimer: NodeJS.Timeout | null = null;
  private warming: WarmProcess | null = null;
  private harnessBuilt: string | null | undefined;
  private selfIdentity: string | undefined;
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
    this.outbox = new Outbox(opts.workDir, (e) => this.log.error({ err: e.message }, 'could not write the outbox file: messages queued now are lost if the agent restarts'));
    this.ranksDir = path.join(opts.workDir, 'ranks');
    fs.mkdirSync(this.ranksDir, { recursive: true, mode: 0o700 });
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
    this.adoptRanks();
    this.connect();
    this.scheduleWarm(0);
    this.heartbeat = setInterval(() => {
      this.sendNow({ type: 'heartbeat', time: Date.now() });
      // Unacknowledged for a while (the master could not store them, or an acknowledgement was lost): again, in order.
      if (this.connected && this.masterAcks && this.outbox.unacked().length && Date.now() - this.lastAckOrSend > RESEND_MS) this.flushOutbox();
    }, 1000);
    this.poller = setInterval(() => void this.poll(), this.opts.pollMs ?? 250);
  }

  /**
   * Finds the ranks a previous life of this agent started (run directories under <work-dir>/ranks): live ones
   * are adopted, dead ones get their exit reported; left-over pre-warmed harnesses are stopped and removed.
   */
  private adoptRanks(): void {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.ranksDir);
    } catch {
      return;
    }
    for (const name of names) {
      const runDir = path.join(this.ranksDir, name);
      const record = readJson<RankRecord>(path.join(runDir, 'rank.json'));
      if (!record) {
        // A pre-warmed harness never given a task (it exits when its agent goes), or a rank that never started.
        const w = readJson<{ pid: number; startTime: string; ctlDir?: string }>(path.join(runDir, 'warm.json'));
        if (w && processStartTimeSync(w.pid) === w.startTime) killQuietly(-w.pid, 'SIGKILL');
        if (w?.ctlDir) fs.rmSync(w.ctlDir, { recursive: true, force: true });
        fs.rmSync(runDir, { recursive: true, force: true });
        continue;
      }
      const key = `${record.allocationId}/${record.rank}`;
      const shipped = { ...record.acked };
      // Lines already queued in the persisted outbox are not read again.
      for (const m of this.outbox.unacked()) {
        if (m.type === 'logBatch' && m.allocationId === record.allocationId && m.source && m.source.rank === record.rank) {
          shipped[m.source.stream] = Math.max(shipped[m.source.stream], m.source.to);
        }
      }
      const task: Task = {
        key,
        start: { allocationId: record.allocationId, rank: record.rank, trialId: record.trialId },
        taskDir: record.taskDir,
        runDir,
        record,
        child: null,
        shipped,
        killTimer: null,
        exited: false,
        signaled: null,
        adopted: true,
        experimentId: 0,
        devicesKey: '',
        reuse: false,
        listeners: null,
        watcher: null,
      };
      this.tasks.set(key, task);
      if (this.takeDone(task)) continue;
      if (processStartTimeSync(record.pid) === record.startTime) {
        this.log.info({ allocation: record.allocationId, rank: record.rank, pid: record.pid }, 'adopted a rank that outlived the previous agent');
      } else {
        this.log.info({ allocation: record.allocationId, rank: record.rank, pid: record.pid }, 'a rank exited while the agent was away; reporting its exit');
        this.finishFromFiles(task, null);
      }
    }
  }

  /** Reads new output of every rank, and notices adopted ranks that exited. */
  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      for (const t of [...this.tasks.values()]) {
        if (!t.runDir || t.exited) continue;
        // Backpressure: while the master is away or slow, output waits in the rank's files, not in memory.
        if (this.outbox.unacked().length < MAX_UNACKED) this.drain(t, false);
        if (this.takeDone(t)) continue;
        if (t.adopted && t.record && !(await isSameProcess(t.record.pid, t.record.startTime))) this.finishFromFiles(t, null);
      }
    } finally {
      this.polling = false;
    }
  }

  /** Queues the output of `t` written since the last read, as log batches; `final` also takes an unfinished last line. */
  private drain(t: Task, final: boolean): void {
    if (!t.runDir) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      const file = path.join(t.runDir, `${stream}.log`);
      let fd: number;
      try {
        fd = fs.openSync(file, 'r');
      } catch {
        continue;
      }
      try {
        for (const { lines, from, to } of readOutputBatches(fd, t.shipped[stream], fs.fstatSync(fd).size, final)) {
          const ts = new Date().toISOString();
          const logs: LogLine[] = lines.map((line) => {
            let text = line.replace(/\r$/, '');
            if (text.length > MAX_LINE_CHARS) text = `${text.slice(0, MAX_LINE_CHARS)} … [line cut at ${MAX_LINE_CHARS} characters]`;
            return { rank: t.start.rank, stream, ts, line: text };
          });
          t.shipped[stream] = to;
          this.send({ type: 'logBatch', allocationId: t.start.allocationId, trialId: t.start.trialId, logs, source: { rank: t.start.rank, stream, from, to } });
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  async stop(opts: { killTasks?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.poller) clearInterval(this.poller);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.warmTimer) clearTimeout(this.warmTimer);
    for (const w of [...this.warm, ...this.idle, ...(this.warming ? [this.warming] : [])]) {
      killQuietly(-w.pid, 'SIGKILL');
      for (const d of [w.runDir, w.ctlDir]) fs.rmSync(d, { recursive: true, force: true });
    }
    this.warm.length = 0;
    this.idle.length = 0;
    this.warming = null;
    if (opts.killTasks !== false) {
      // Stopping for good: the ranks go too, and their exits are queued (a later agent delivers them).
      const live = [...this.tasks.values()].filter((t) => t.record && !t.exited);
      for (const t of live) this.signal(t, 'kill');
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && live.some((t) => !t.exited)) {
        await new Promise((r) => setTimeout(r, 100));
        for (const t of live) if (!t.exited && !(await isSameProcess(t.record!.pid, t.record!.startTime))) this.finishFromFiles(t, null);
      }
    }
    // Otherwise the ranks keep running: an agent restarted with this work directory adopts them.
    this.ws?.close(1000, 'agent stopping');
    if (this.ownTaskRoot) await fs.promises.rm(this.taskRoot, { recursive: true, force: true }).catch(() => undefined);
  }

  /** The directory of one rank of one allocation. */
  private taskDir(start: Pick<StartTask, 'allocationId' | 'rank'>): string {
    return path.join(this.taskRoot, `${start.allocationId}-r${start.rank}`);
  }

  /** Where a rank's output, identity and exit are kept. */
  private runDirOf(start: Pick<StartTask, 'allocationId' | 'rank'>): string {
    return path.join(this.ranksDir, `${start.allocationId}-r${start.rank}.run`);
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
      const running = this.runningTasks();
      const exiting = this.outbox
        .unacked()
        .filter((m) => m.type === 'taskState' && m.state === 'exited')
        .map((m) => ({ allocationId: m.allocationId, rank: (m as { rank: number }).rank }));
      this.masterAcks = false;
      this.sendNow({
        type: 'hello',
        agentId: this.opts.agentId,
        resourcePool: this.opts.resourcePool,
        devices: this.opts.devices,
        running,
        version: '0.1.0',
        hostname: os.hostname(),
        ...(this.secret ? { agentSecret: this.secret } : {}),
        outbox: { epoch: this.outbox.epoch, firstSeq: this.outbox.firstSeq() },
        ...(exiting.length ? { exiting } : {}),
      });
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

  /** Queues `msg` in the outbox (persisted), and sends it now when the master is there. */
  private send(msg: Outgoing): void {
    const m = this.outbox.enqueue(msg);
    if (this.connected && this.sendNow(m)) this.afterSend([m]);
  }

  /** Sends every unacknowledged message, in order (the master ignores what it already stored). */
  private flushOutbox(): void {
    const all = [...this.outbox.unacked()];
    const sent: Sequenced[] = [];
    for (const m of all) {
      if (!this.sendNow(m)) break;
      sent.push(m);
    }
    this.afterSend(sent, true);
  }

  private afterSend(sent: Sequenced[], all = false): void {
    if (!sent.length) return;
    // Only a full re-send (or an acknowledgement) restarts the wait before the next one: new messages do not.
    if (all) this.lastAckOrSend = Date.now();
    // A master that does not acknowledge (an older one): sent is as good as it gets.
    if (!this.masterAcks) this.acknowledged(sent[sent.length - 1]!.seq);
  }

  /** The master stored every message up to `seq`: keep the log offsets they carried, then drop them. */
  private acknowledged(seq: number): void {
    this.lastAckOrSend = Date.now();
    const done = this.outbox.unacked().filter((m) => m.seq <= seq);
    const touched = new Set<Task>();
    for (const m of done) {
      if (m.type !== 'logBatch' || !m.source) continue;
      const t = this.tasks.get(`${m.allocationId}/${m.source.rank}`);
      if (!t?.record) continue;
      t.record.acked[m.source.stream] = Math.max(t.record.acked[m.source.stream], m.source.to);
      touched.add(t);
    }
    // rank.json first: a crash between the two writes leaves a re-sent batch (the master drops it), never a gap.
    for (const t of touched) if (!t.exited) writeRecord(t);
    this.outbox.ack(seq);
  }

  private async handle(msg: MasterToAgent): Promise<void> {
    if (msg.type === 'welcome') {
      this.connected = true;
      this.lastRefusal = null;
      this.backoffMs = 250;
      if (msg.agentSecret) this.storeSecret(msg.agentSecret);
      this.masterAcks = msg.acks === true;
      this.flushOutbox();
      return;
    }
    if (msg.type === 'ack') {
      this.acknowledged(msg.seq);
      return;
    }
    if (msg.type === 'startTask') return this.startTask(msg);
    if (msg.type === 'signalTask') {
      for (const t of this.tasks.values()) if (t.start.allocationId === msg.allocationId) this.signal(t, msg.signal);
    }
    if (msg.type === 'experimentEnded') {
      const waiting = this.idle.filter((w) => w.reusable?.experimentId === msg.experimentId);
      for (const w of waiting) this.stopIdle(w);
      if (waiting.length) {
        this.log.info({ experiment: msg.experimentId, stopped: waiting.length }, 'experiment ended: stopped the harnesses waiting for its trials');
        this.scheduleWarm(0);
      }
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
    if (!t.record || t.exited) return;
    const rec = t.record;
    const runDir = t.runDir!;
    void isSameProcess(rec.pid, rec.startTime).then((same) => {
      if (!same || t.exited) return;
      if (sig === 'terminate') {
        // The group: the rank gets it (the wrapper ignores it and waits for the rank's exit).
        killQuietly(-rec.pid, 'SIGTERM');
      } else {
        // The rank itself, so that its wrapper lives to record the exit; then whatever is left of the group.
        const c = readJson<{ pid: number }>(path.join(runDir, 'child.json'));
        if (c) killQuietly(c.pid, 'SIGKILL');
        else killQuietly(-rec.pid, 'SIGKILL');
        setTimeout(() => {
          if (!t.exited) void isSameProcess(rec.pid, rec.startTime).then((still) => still && killQuietly(-rec.pid, 'SIGKILL'));
        }, 3000).unref();
      }
    });
    if (sig === 'terminate' && !t.killTimer) t.killTimer = setTimeout(() => this.signal(t, 'kill'), 30_000);
  }

  private async startTask(start: StartTask): Promise<void> {
    const key = `${start.allocationId}/${start.rank}`;
    if (this.tasks.has(key)) return; // de-duplicate a re-sent start
    const dir = this.taskDir(start);
    const gpuIds = start.devices.filter((d) => this.opts.devices.find((x) => x.id === d)?.type === 'gpu');
    const task: Task = {
      key,
      start: { allocationId: start.allocationId, rank: start.rank, trialId: start.trialId },
      taskDir: dir,
      runDir: null,
      record: null,
      child: null,
      shipped: { stdout: 0, stderr: 0 },
      killTimer: null,
      exited: false,
      signaled: null,
      adopted: false,
      experimentId: start.experimentId,
      devicesKey: gpuIds.join(','),
      // One process per trial rank; only a single-rank trial's process goes on to another trial (its peers' would not).
      reuse: start.worldSize === 1 && this.prewarmOn(),
      listeners: null,
      watcher: null,
    };
    this.tasks.set(key, task);
    try {
      await this.prepareDir(dir, start);
    } catch (e) {
      this.failBeforeStart(task, 1, null, `ERROR agent: could not prepare the model directory: ${(e as Error).message}`);
      return;
    }
    if (task.signaled) {
      this.failBeforeStart(task, null, 'SIGKILL', null);
      return;
    }
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
    let warm = this.takeWarm(task);
    // None waiting: a task whose process may run the next trial starts one in pre-warmed mode all the same and
    // hands it the task once it is ready (the same start-up as a plain harness; then it can be reused).
    const cold = !warm;
    if (!warm && task.reuse) warm = this.spawnPrewarmed();
    let child: ChildProcess;
    let runDir: string;
    if (warm) {
      // A waiting harness: its run directory becomes the rank's; what it printed before the task is not the task's.
      runDir = warm.runDir;
      for (const s of ['stdout', 'stderr'] as const) task.shipped[s] = fileSize(path.join(runDir, `${s}.log`));
      child = warm.child;
      task.runDir = runDir;
      task.child = child;
      task.record = { allocationId: start.allocationId, rank: start.rank, trialId: start.trialId, taskDir: dir, pid: warm.pid, startTime: warm.startTime, acked: { ...task.shipped }, ctlDir: warm.ctlDir };
      writeRecord(task);
      fs.rmSync(path.join(runDir, 'warm.json'), { force: true });
      if (warm.reusable) {
        // It finished a trial of this experiment and waits for start.json (warm.ts): a restarted agent can hand it
        // over too, and it is no longer our IPC child in any sense that matters.
        writeJsonAtomic(path.join(warm.ctlDir, 'start.json'), { allocationId: start.allocationId, env, cwd: dir, reuse: task.reuse }, this.runAs);
      } else {
        // Hand it the task's whole environment (it replaces its own) and directory; the wrapper then lets go of us.
        const msg = { type: 'start', env, cwd: dir, ctlDir: warm.ctlDir, reuse: task.reuse };
        if (warm.ready) child.send(msg);
        else {
          const onReady = (m: { type?: string }) => {
            if (m?.type !== 'ready') return;
            child.off('message', onReady);
            if (!task.exited && !task.signaled) child.send(msg);
          };
          child.on('message', onReady);
        }
      }
      this.scheduleWarm(1000);
    } else {
      runDir = this.runDirOf(start);
      fs.rmSync(runDir, { recursive: true, force: true });
      fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
      child = this.spawnWrapper(runDir, dir, env, this.harnessCommand(false), false);
      task.runDir = runDir;
      task.child = child;
      const startTime = child.pid !== undefined ? processStartTimeSync(child.pid) : null;
      if (child.pid !== undefined && startTime) {
        task.record = { allocationId: start.allocationId, rank: start.rank, trialId: start.trialId, taskDir: dir, pid: child.pid, startTime, acked: { stdout: 0, stderr: 0 } };
        writeRecord(task);
      }
    }
    void this.logStarted(task, child.pid, cold ? 'cold' : warm!.reusable ? 'reused' : 'prewarmed');
    this.send({ type: 'taskState', allocationId: start.allocationId, rank: start.rank, state: 'running' });
    const listeners = {
      error: (e: Error) => {
        fs.appendFileSync(path.join(runDir, 'stderr.log'), `ERROR agent: could not start the harness: ${e.message}\n`);
        this.finishFromFiles(task, { code: 127, signal: null });
      },
      exit: (code: number | null, signal: NodeJS.Signals | null) => this.finishFromFiles(task, { code, signal }),
    };
    task.listeners = listeners;
    child.on('error', listeners.error);
    child.on('exit', listeners.exit);
    if (task.reuse && warm) {
      // done.json comes the moment the trial ends: notice it at once (the poll is the fallback).
      try {
        task.watcher = fs.watch(warm.ctlDir, () => this.takeDone(task));
      } catch {
        // no inotify: the poll sees it
      }
    }
  }

  /**
   * A harness that ran `t` reuses its process (warm.ts): it wrote done.json with `t`'s allocation when the trial
   * ended with code 0. Then `t` exited 0, and the process waits for another trial of its experiment, unless the
   * task was signalled, the agent is stopping, the process is not our child (an adopted rank) or there is no room.
   * True when `t` was done.
   */
  private takeDone(t: Task): boolean {
    if (t.exited || !t.runDir || !t.record?.ctlDir) return false;
    const ctlDir = t.record.ctlDir;
    const file = path.join(ctlDir, 'done.json');
    const done = readJson<{ allocationId: string; code: number }>(file);
    if (!done || done.allocationId !== t.start.allocationId) return false;
    fs.rmSync(file, { force: true });
    t.exited = true;
    if (t.killTimer) clearTimeout(t.killTimer);
    t.watcher?.close();
    this.drain(t, true);
    this.log.info({ allocation: t.start.allocationId, rank: t.start.rank, code: 0, signal: null, adopted: t.adopted, reused: true }, 'task exited');
    this.send({ type: 'taskState', allocationId: t.start.allocationId, rank: t.start.rank, state: 'exited', exitCode: 0, signal: null });
    this.tasks.delete(t.key);
    if (!this.opts.keepWorkDirs) void fs.promises.rm(t.taskDir, { recursive: true, force: true }).catch(() => undefined);
    const child = t.child;
    const rec = t.record;
    const runDir = t.runDir;
    if (child && t.listeners) {
      child.off('exit', t.listeners.exit);
      child.off('error', t.listeners.error);
    }
    const keep = child && child.exitCode === null && child.signalCode === null && !t.signaled && !this.stopped && this.warmRoom();
    if (!keep) {
      // Nobody will hand it a trial: stop it (it ignores nothing while it waits) and forget it.
      this.killWaiting(rec.pid, rec.startTime, [runDir, ctlDir]);
      this.scheduleWarm(1000);
      return true;
    }
    // warm.json before rank.json goes: a restarted agent stops it either way, never takes it for a running rank.
    writeJsonAtomic(path.join(runDir, 'warm.json'), { pid: rec.pid, startTime: rec.startTime, ctlDir });
    fs.rmSync(path.join(runDir, 'rank.json'), { force: true });
    const w: WarmProcess = { child, ready: true, runDir, ctlDir, pid: rec.pid, startTime: rec.startTime, reusable: { experimentId: t.experimentId, devicesKey: t.devicesKey } };
    this.idle.push(w);
    child.once('exit', (code, signal) => {
      const i = this.idle.indexOf(w);
      this.log.debug({ pid: rec.pid, code, signal, waiting: i >= 0 }, 'reusable harness exited');
      if (i >= 0) {
        // It waited long enough (warm.ts's --idle-exit-ms), or died: its place goes back to the pool.
        this.idle.splice(i, 1);
        for (const d of [runDir, ctlDir]) fs.rmSync(d, { recursive: true, force: true });
        this.scheduleWarm(1000);
      }
    });
    return true;
  }

  /** Stops a process that waits for a trial of its experiment, and forgets it (its run and control directories go). */
  private stopIdle(w: WarmProcess): void {
    const i = this.idle.indexOf(w);
    if (i < 0) return;
    this.idle.splice(i, 1);
    this.log.debug({ pid: w.pid, experiment: w.reusable?.experimentId }, 'stopping a waiting harness');
    this.killWaiting(w.pid, w.startTime, [w.runDir, w.ctlDir]);
  }

  /** Kills a harness that waits for a trial (its process group, if it is still that process), then removes its directories. */
  private killWaiting(pid: number, startTime: string, dirs: string[]): void {
    void isSameProcess(pid, startTime).then((same) => {
      if (same) killQuietly(-pid, 'SIGKILL');
      for (const d of dirs) void fs.promises.rm(d, { recursive: true, force: true }).catch(() => undefined);
    });
  }

  /** Says that a task started, with the rank's own pid (the wrapper writes it once it has spawned the rank). */
  private async logStarted(task: Task, wrapperPid: number | undefined, how: 'cold' | 'prewarmed' | 'reused'): Promise<void> {
    let pid: number | undefined;
    for (let i = 0; i < 100 && pid === undefined && !task.exited; i++) {
      pid = readJson<{ pid: number }>(path.join(task.runDir!, 'child.json'))?.pid;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    this.log.info({ allocation: task.start.allocationId, rank: task.start.rank, pid: pid ?? wrapperPid, wrapperPid, trial: task.start.trialId, prewarmed: how !== 'cold', reused: how === 'reused' }, 'task started');
  }

  /**
   * Starts the rank wrapper (rankWrapper.mjs) detached, in its own session, with stdout and stderr going to files
   * in `runDir` (opened here and handed over: no pipe of ours). `ipc`: for a pre-warmed harness.
   */
  private spawnWrapper(runDir: string, cwd: string, env: NodeJS.ProcessEnv, command: string[], ipc: boolean): ChildProcess {
    const out = fs.openSync(path.join(runDir, 'stdout.log'), 'a', 0o600);
    const err = fs.openSync(path.join(runDir, 'stderr.log'), 'a', 0o600);
    try {
      const u = this.spawnUser();
      return spawn(process.execPath, [RANK_WRAPPER, runDir, cwd, u.uid !== undefined ? String(u.uid) : '-', u.gid !== undefined ? String(u.gid) : '-', ...command], {
        cwd: runDir,
        env,
        detached: true,
        stdio: ['ignore', out, err, ...(ipc ? (['ipc'] as const) : [])],
      });
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  }

  /** A task that never got a process: its error line and exit go out as for any rank. */
  private failBeforeStart(task: Task, code: number | null, signal: NodeJS.Signals | null, line: string | null): void {
    task.exited = true;
    if (line) this.send({ type: 'logBatch', allocationId: task.start.allocationId, trialId: task.start.trialId, logs: [{ rank: task.start.rank, stream: 'stderr', ts: new Date().toISOString(), line }] });
    this.log.info({ allocation: task.start.allocationId, rank: task.start.rank, code, signal }, 'task exited');
    this.send({ type: 'taskState', allocationId: task.start.allocationId, rank: task.start.rank, state: 'exited', exitCode: code, signal });
    this.tasks.delete(task.key);
    if (!this.opts.keepWorkDirs) void fs.promises.rm(task.taskDir, { recursive: true, force: true }).catch(() => undefined);
  }

  private prewarmOn(): boolean {
    return this.opts.prewarm !== false && !this.opts.harnessMain;
  }

  /** A harness process per slot (devices): pre-warmed ones and ones waiting to be reused together. */
  private slots(): number {
    return Math.max(1, this.opts.devices.length);
  }

  /**
   * Room for another waiting harness: one process per slot, counting the running ranks (each of which may go on to
   * the next trial on its slot), so a busy agent does not hold twice its slots in processes.
   */
  private warmRoom(): boolean {
    return this.warm.length + this.idle.length + this.ranksWithProcess() < this.slots();
  }

  /**
   * Running ranks that hold a process. A task still fetching its model directory has none yet: it is about to
   * take a waiting one (or start one), so counting it would stop the process it is about to take (a slot freed
   * and given out again before the trial that left it was seen to be done).
   */
  private ranksWithProcess(): number {
    let n = 0;
    for (const t of this.tasks.values()) if (!t.exited && t.child) n++;
    return n;
  }

  /** The command that starts a harness: the built one when it is up to date (harnessBundle.ts), else through tsx. */
  private harnessCommand(warm: boolean): string[] {
    if (this.opts.harnessMain) return [process.execPath, '--import', TSX_LOADER, this.opts.harnessMain];
    if (this.harnessBuilt === undefined) {
      this.harnessBuilt = builtHarness(REPO_ROOT);
      this.log.info({ harness: this.harnessBuilt ?? 'harness/src through tsx (no up-to-date harness/dist/harness.mjs: npm run build:harness)' }, 'harness');
    }
    // This agent's pid and start time, by which a waiting harness tells that its agent is gone: fixed for its life.
    this.selfIdentity ??= `${process.pid}:${processStartTimeSync(process.pid) ?? ''}`;
    const warmArgs = ['--agent', this.selfIdentity, '--idle-exit-ms', String(this.opts.reuseIdleMs ?? 30_000)];
    if (this.harnessBuilt) return [process.execPath, this.harnessBuilt, ...(warm ? ['--prewarm', ...warmArgs] : [])];
    return [process.execPath, '--import', TSX_LOADER, path.join(REPO_ROOT, warm ? 'harness/src/prewarm.ts' : 'harness/src/main.ts'), ...(warm ? warmArgs : [])];
  }

  /**
   * Keeps the pool of pre-warmed harnesses full, one start at a time (each costs CPU that running trials want):
   * the next begins `delayMs` after the last became ready.
   */
  private scheduleWarm(delayMs: number): void {
    if (!this.prewarmOn() || this.stopped || this.warmTimer || this.warming) return;
    if (!this.warmRoom()) return;
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      if (this.stopped || this.warming || !this.warmRoom()) return;
      const w = this.spawnPrewarmed();
      if (!w) return;
      this.warming = w;
      w.child.on('message', (m: { type?: string }) => {
        if (m?.type !== 'ready' || w.ready) return;
        w.ready = true;
        this.log.debug({ pid: w.pid }, 'pre-warmed harness ready');
        if (this.warming === w) this.warming = null;
        this.warm.push(w);
        this.scheduleWarm(0);
      });
      w.child.once('exit', (code) => {
        this.log.debug({ pid: w.pid, code }, 'pre-warmed harness exited');
        const i = this.warm.indexOf(w);
        if (i >= 0) this.warm.splice(i, 1);
        if (i >= 0 || this.warming === w) {
          if (this.warming === w) this.warming = null;
          for (const d of [w.runDir, w.ctlDir]) fs.rmSync(d, { recursive: true, force: true });
          this.scheduleWarm(10_000);
        }
      });
    }, delayMs);
  }

  /**
   * Starts a harness in pre-warmed mode (warm.ts) under the rank wrapper, with a run directory and a control
   * directory of its own; it says `ready` over IPC once its modules are loaded. Null when it could not start.
   */
  private spawnPrewarmed(): WarmProcess | null {
    const name = `warm-${crypto.randomBytes(6).toString('hex')}`;
    const runDir = path.join(this.ranksDir, name);
    fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
    // The run directory is the agent's alone; the harness (maybe another user) answers in a directory of its own.
    const ctlDir = path.join(this.taskRoot, `.${name}`);
    fs.rmSync(ctlDir, { recursive: true, force: true });
    fs.mkdirSync(ctlDir, { mode: 0o700 });
    if (this.runAs) fs.chownSync(ctlDir, this.runAs.uid, this.runAs.gid);
    // The same basics as a task's harness (never the agent's environment), under the same wrapper, as the same user.
    const child = this.spawnWrapper(runDir, this.taskRoot, { ...baseEnvironment(this.agentEnv, this.runAs ? this.taskRoot : undefined), ...this.harnessTlsEnv() }, this.harnessCommand(true), true);
    const startTime = child.pid !== undefined ? processStartTimeSync(child.pid) : null;
    if (child.pid === undefined || !startTime) {
      child.kill('SIGKILL');
      for (const d of [runDir, ctlDir]) fs.rmSync(d, { recursive: true, force: true });
      return null;
    }
    writeJsonAtomic(path.join(runDir, 'warm.json'), { pid: child.pid, startTime, ctlDir });
    return { child, ready: false, runDir, ctlDir, pid: child.pid, startTime, reusable: null };
  }

  /** spawn options that start a harness as the rank user. */
  private spawnUser(): { uid?: number; gid?: number } {
    return this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {};
  }

  /** Read by Node at start-up: the harness's `fetch` then trusts the master's private CA too. */
  private harnessTlsEnv(): Record<string, string> {
    return this.harnessCaFile ? { NODE_EXTRA_CA_CERTS: this.harnessCaFile } : {};
  }

  /**
   * A waiting harness for `t`: one that just ran a trial of the same experiment on the same devices (reuse), else a
   * pre-warmed one; null: start one cold.
   */
  private takeWarm(t: Task): WarmProcess | null {
    const usable = (w: WarmProcess) => w.ready && w.child.exitCode === null && w.child.signalCode === null && (w.reusable !== null || w.child.connected);
    for (const w of t.reuse ? [...this.idle] : []) {
      if (!usable(w) || w.reusable!.experimentId !== t.experimentId || w.reusable!.devicesKey !== t.devicesKey) continue;
      // The process may be giving up waiting at this moment: whichever of us renames its `idle` file first wins (warm.ts).
      try {
        fs.renameSync(path.join(w.ctlDir, 'idle'), path.join(w.ctlDir, 'idle.claimed'));
      } catch {
        this.log.debug({ pid: w.pid }, 'waiting harness is exiting');
        continue; // it is exiting; its exit listener forgets it
      }
      this.idle.splice(this.idle.indexOf(w), 1);
      w.child.removeAllListeners('exit');
      return w;
    }
    const i = this.warm.findIndex(usable);
    if (i < 0) {
      // A cold start: if processes waiting for other experiments' trials fill the agent's slots, the oldest goes.
      if (this.idle.length && !this.warmRoom()) this.stopIdle(this.idle[0]!);
      return null;
    }
    const [w] = this.warm.splice(i, 1);
    w!.child.removeAllListeners('exit');
    w!.child.removeAllListeners('message');
    return w!;
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


  /**
   * A rank's wrapper is gone (our child's exit event, or an adopted one found dead): read the rest of its output,
   * then report the exit it recorded (exit.json). `fallback`: the wrapper's own exit, when it recorded none.
   */
  private finishFromFiles(task: Task, fallback: { code: number | null; signal: NodeJS.Signals | null } | null): void {
    if (task.exited) return;
    task.exited = true;
    if (task.killTimer) clearTimeout(task.killTimer);
    task.watcher?.close();
    const runDir = task.runDir!;
    const recorded = readJson<{ code: number | null; signal: NodeJS.Signals | null }>(path.join(runDir, 'exit.json'));
    let code: number | null;
    let signal: string | null;
    let message: string | undefined;
    if (recorded) ({ code, signal } = recorded);
    else if (fallback && fallback.code !== 0) ({ code, signal } = fallback);
    else {
      code = null;
      signal = task.signaled === 'kill' ? 'SIGKILL' : null;
      message = 'the rank ended without an exit record (its wrapper was killed)';
    }
    if (!recorded) {
      // The wrapper was killed: stop its rank too rather than leave it running untracked.
      const c = readJson<{ pid: number; startTime: string | null }>(path.join(runDir, 'child.json'));
      if (c?.startTime && processStartTimeSync(c.pid) === c.startTime) killQuietly(c.pid, 'SIGKILL');
    }
    this.drain(task, true);
    this.log.info({ allocation: task.start.allocationId, rank: task.start.rank, code, signal, adopted: task.adopted }, 'task exited');
    this.send({ type: 'taskState', allocationId: task.start.allocationId, rank: task.start.rank, state: 'exited', exitCode: code, signal, ...(message ? { message } : {}) });
    this.tasks.delete(task.key);
    // The exit and the last lines are in the (persisted) outbox now: the run directory has served.
    if (!this.opts.keepWorkDirs) {
      for (const d of [runDir, task.taskDir, ...(task.record?.ctlDir ? [task.record.ctlDir] : [])]) void fs.promises.rm(d, { recursive: true, force: true }).catch(() => undefined);
    }
    // Its slot's process is gone: the pool may start another.
    this.scheduleWarm(1000);
  }

  /** How many pre-warmed harnesses wait for a task now (for tests and status). */
  warmReady(): number {
    return this.warm.filter((w) => w.ready).length;
  }

  /** Tasks this agent is running now (for tests and status). */
  runningTasks(): RunningTask[] {
    return [...this.tasks.values()].filter((t) => !t.exited && t.record).map((t) => ({ allocationId: t.start.allocationId, rank: t.start.rank, pid: t.record!.pid }));
  }
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function writeJsonAtomic(file: string, value: unknown, owner?: RunAsUser | null): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(value) + '\n', { mode: 0o600 });
  if (owner) fs.chownSync(tmp, owner.uid, owner.gid);
  fs.renameSync(tmp, file);
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Writes a task's rank.json atomically (temporary file, then rename). */
function writeRecord(t: Task): void {
  if (!t.runDir || !t.record) return;
  const tmp = path.join(t.runDir, '.rank.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(t.record) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, path.join(t.runDir, 'rank.json'));
}

function killQuietly(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
