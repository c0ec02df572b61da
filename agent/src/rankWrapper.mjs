// The rank wrapper: the process the agent starts for each harness rank (plain JavaScript, no loader, so it costs
// a bare Node start-up). Usage: node rankWrapper.mjs <runDir> <cwd> <uid|-> <gid|-> <command> [args...]
//
// Why a wrapper: a rank must outlive its agent (an upgrade, a crash, `systemctl restart hone-agent`), so it runs
// detached (its own session and process group) with its output going to files, not to pipes the agent owns. But
// a detached child's exit status can only be waited for by its parent, and a restarted agent is not that parent.
// The wrapper is: it starts the rank, waits for it, and writes `<runDir>/exit.json` ({code, signal}) atomically
// (temporary file, then rename) when it exits, so whoever looks later — this agent or a restarted one — reads the
// real exit code. The wrapper writes `<runDir>/child.json` ({pid}) so that the agent can SIGKILL the rank itself
// (killing the wrapper's whole group would kill the wrapper too, and the exit would go unrecorded), and so that a
// rank whose wrapper was killed is stopped rather than left running untracked.
//
// Signals: SIGTERM and SIGINT sent to the group reach the rank directly; the wrapper ignores them and keeps
// waiting for the rank. The wrapper runs as the agent's user (it writes the run directory); the rank runs as
// <uid>:<gid> when given.
//
// Pre-warmed harness: when the agent starts the wrapper with an IPC channel, the rank gets one too and the
// wrapper relays messages both ways until the `start` message has been passed on; then it lets go of the agent's
// channel, so that the agent's death no longer concerns the rank. An agent that goes away before handing the
// pre-warmed harness a task takes it down with it (the harness exits when its channel closes).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [runDir, cwd, uid, gid, command, ...args] = process.argv.slice(2);
if (!runDir || !cwd || !uid || !gid || !command) {
  process.stderr.write('usage: rankWrapper.mjs <runDir> <cwd> <uid|-> <gid|-> <command> [args...]\n');
  process.exit(2);
}

function writeAtomic(name, value) {
  const tmp = path.join(runDir, `.${name}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(value) + '\n');
  fs.renameSync(tmp, path.join(runDir, name));
}

const ipc = typeof process.send === 'function';
const child = spawn(command, args, {
  cwd,
  stdio: ['ignore', 'inherit', 'inherit', ...(ipc ? ['ipc'] : [])],
  ...(uid !== '-' ? { uid: Number(uid) } : {}),
  ...(gid !== '-' ? { gid: Number(gid) } : {}),
});
process.on('SIGTERM', () => undefined);
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
/** Field 22 of /proc/<pid>/stat (start time), counted after the command name's last ')' (see procIdentity.ts). */
function startTimeOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19] ?? null;
  } catch {
    return null;
  }
}
if (child.pid !== undefined) writeAtomic('child.json', { pid: child.pid, startTime: startTimeOf(child.pid) });

let started = !ipc;
if (ipc) {
  process.on('message', (m) => {
    if (!child.connected) return;
    child.send(m);
    if (m && m.type === 'start') {
      started = true;
      process.removeAllListeners('message');
      process.disconnect();
    }
  });
  child.on('message', (m) => {
    if (!started && process.connected) process.send(m);
  });
  process.on('disconnect', () => {
    if (!started && child.connected) child.disconnect();
  });
}

child.on('error', (e) => {
  process.stderr.write(`ERROR agent: could not start the harness: ${e.message}\n`);
  writeAtomic('exit.json', { code: 127, signal: null });
  process.exit(0);
});
child.on('exit', (code, signal) => {
  writeAtomic('exit.json', { code, signal });
  process.exit(0);
});
