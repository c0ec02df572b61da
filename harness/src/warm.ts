// A pre-warmed harness process, and the reuse of one process for the next trial of the same experiment.
//
// The agent starts it ahead of time (prewarm.ts under tsx, or `dist/harness.mjs --prewarm`) under the rank wrapper,
// with a trial's basic environment only (never the agent's own). It loads TensorFlow.js, the WebAssembly backend,
// the harness and the TypeScript loader for user code, says `ready` over IPC, then waits for one `start` message
// carrying the task's environment (which replaces the process's), directory and run directory. Only modules are
// loaded: no backend is selected and nothing touches a device until the task's environment (CUDA_VISIBLE_DEVICES
// included) is in place. After `start` the wrapper lets go of the agent's IPC channel, so the rank outlives the agent.
//
// Reuse (`reuse: true` in the start, which the agent sets for single-rank trials): when the trial returns cleanly
// (exit code 0) and left no tensor behind, the process does not exit. It puts back its basic environment and
// directory, writes `<ctlDir>/done.json` ({allocationId, code: 0}: for the agent, the trial exited 0) and waits for
// `<ctlDir>/start.json` ({allocationId, env, cwd, reuse}), which the agent writes (atomically, after claiming the
// process by renaming `<ctlDir>/idle`) for the next trial of the same experiment on the same devices. Each trial's
// model directory is a new one, so its modules are imported afresh; the harness's own modules, TensorFlow.js and its
// backend stay loaded. Files, not IPC: after its first start the rank has no channel to the agent (it must outlive
// it), and a restarted agent stops waiting processes rather than reuse them. The process exits instead of waiting when its agent
// is gone (`--agent <pid>:<starttime>`), after `--max-trials` trials, or after `--idle-exit-ms` without a trial.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface StartMessage {
  type: 'start';
  env: Record<string, string>;
  cwd: string;
  /** Where done.json, idle and start.json are exchanged: a directory of the agent's that the rank's user can write. */
  ctlDir?: string;
  /** This process may run further trials after this one (see above). */
  reuse?: boolean;
}

interface StartFile {
  allocationId: string;
  env: Record<string, string>;
  cwd: string;
  reuse?: boolean;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Field 22 of /proc/<pid>/stat (start time), counted after the command name's last ')' (agent/src/procIdentity.ts). */
function startTimeOf(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19] ?? null;
  } catch {
    return null;
  }
}

function writeAtomic(file: string, value: unknown): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(value) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function applyEnv(env: Record<string, string>): void {
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
}

/**
 * Waits for `<ctlDir>/start.json`; null when the agent went away or nothing came in `idleMs`. The agent and this
 * process may decide at the same moment (it to hand over a trial, this to stop waiting): each first renames the
 * `idle` file, and the one whose rename fails yields. A claimed process whose agent died before writing start.json
 * exits 1: a restarted agent may have taken it for that trial's running rank, and must not see a clean exit.
 */
function nextStart(ctlDir: string, agentAlive: () => boolean, idleMs: number): Promise<StartFile | null> {
  const file = path.join(ctlDir, 'start.json');
  const giveUp = (): boolean => {
    try {
      fs.renameSync(path.join(ctlDir, 'idle'), path.join(ctlDir, 'idle.closed'));
      return true;
    } catch {
      return false; // claimed: a trial is on its way
    }
  };
  return new Promise((resolve) => {
    let done = false;
    let watcher: fs.FSWatcher | null = null;
    const finish = (v: StartFile | null) => {
      if (done) return;
      done = true;
      watcher?.close();
      clearInterval(poll);
      clearTimeout(idle);
      resolve(v);
    };
    const check = () => {
      if (done) return;
      let s: StartFile;
      try {
        s = JSON.parse(fs.readFileSync(file, 'utf8')) as StartFile;
      } catch {
        return; // not there (yet)
      }
      fs.rmSync(file, { force: true });
      fs.rmSync(path.join(ctlDir, 'idle.claimed'), { force: true });
      finish(s);
    };
    const stopWaiting = () => {
      if (done || giveUp()) return finish(null);
      if (!agentAlive()) {
        console.error('harness: the agent went away after handing this process a trial, before saying which; exiting');
        process.exit(1);
      }
    };
    try {
      watcher = fs.watch(ctlDir, () => check());
    } catch {
      // no inotify: the poll below still sees it
    }
    const poll = setInterval(() => {
      check();
      if (!agentAlive()) stopWaiting();
    }, 500);
    const idle = setTimeout(stopWaiting, idleMs);
    check();
  });
}

/**
 * What a trial's first moments would otherwise pay in every new process, paid while it waits: Node's `fetch`
 * (undici, loaded on first use) and the TypeScript loader's first transform (a throw-away module in a temporary
 * directory). Nothing of a task's: no master is called, no device touched. Failures are ignored (the trial pays).
 */
async function warmUpFirstUse(): Promise<void> {
  await fetch('data:text/plain,warm')
    .then((r) => r.text())
    .catch(() => undefined);
  let dir: string | null = null;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-warm-'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
    fs.writeFileSync(path.join(dir, 'warm.ts'), 'export const warm: number = 1;\n');
    await import(pathToFileURL(path.join(dir, 'warm.ts')).href);
  } catch {
    // nothing to warm up
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function runPrewarmed(): Promise<void> {
  const [tf] = await Promise.all([import('@tensorflow/tfjs'), import('@tensorflow/tfjs-backend-wasm')]);
  const { main } = await import('./main');
  const { isExiting } = await import('./exit');
  const { ensureTypeScriptLoader } = await import('./tsLoader');
  await ensureTypeScriptLoader();
  await warmUpFirstUse();
  const agent = /^(\d+):(\d+)$/.exec(arg('--agent') ?? '');
  const agentAlive = () => !agent || startTimeOf(Number(agent[1])) === agent[2];
  const maxTrials = Number(arg('--max-trials') ?? 100);
  const idleMs = Number(arg('--idle-exit-ms') ?? 60_000);
  const baseEnv = { ...process.env } as Record<string, string>;
  const baseCwd = process.cwd();

  const first = await new Promise<StartMessage>((resolve) => {
    process.on('message', (msg: StartMessage) => {
      if (msg?.type === 'start') resolve(msg);
    });
    // The agent went away before giving us a task: nothing to do.
    process.on('disconnect', () => {
      if (!process.env.HONE_ALLOCATION_ID) process.exit(0);
    });
    process.send?.({ type: 'ready' });
  });
  // From here on the process is the task; the agent only watches its output, exit and run directory.
  process.removeAllListeners('message');
  process.removeAllListeners('disconnect');
  process.disconnect?.();

  let start: StartFile | null = { allocationId: '', env: first.env, cwd: first.cwd, reuse: first.reuse };
  const ctlDir = first.ctlDir;
  for (let trials = 1; start; trials++) {
    applyEnv(start.env);
    process.chdir(start.cwd);
    const allocationId = process.env.HONE_ALLOCATION_ID ?? start.allocationId;
    let code: number;
    try {
      code = await main();
    } catch (e) {
      if (isExiting()) return; // a ring failure: the process exits with its code once its output is out (exit.ts)
      console.error(`harness: failed: ${(e as Error)?.stack ?? String(e)}`);
      process.exit(1);
    }
    if (isExiting()) return;
    if (code !== 0) process.exit(code);
    // Only a clean trial, in a process that kept nothing of it, runs another.
    tf.disposeVariables();
    const leaked = tf.memory().numTensors;
    if (!start.reuse || !ctlDir || leaked > 0 || trials >= maxTrials || !agentAlive()) process.exit(0);
    applyEnv(baseEnv);
    process.chdir(baseCwd);
    fs.writeFileSync(path.join(ctlDir, 'idle'), '', { mode: 0o600 });
    writeAtomic(path.join(ctlDir, 'done.json'), { allocationId, code: 0 });
    start = await nextStart(ctlDir, agentAlive, idleMs);
  }
  process.exit(0);
}
