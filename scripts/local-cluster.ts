// `npm start`: a local cluster — the master (embedded database under --data-dir) and one agent whose slots
// are this machine's GPUs, or --slots CPU slots when there are none. Ctrl-C stops both.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

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
unless --db-url (or HONE_DB_URL) names a PostgreSQL.`);
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

const children: ChildProcess[] = [];
function run(name: string, args: string[], onLine?: (l: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env: { ...process.env, HONE_AGENT_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
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
run('master', masterArgs, (line) => {
  const m = /^Master listening at (\S+)/.exec(line);
  if (!m) return;
  const url = m[1]!;
  const agentArgs = ['agent/src/main.ts', '--master', url, '--id', 'local-agent', '--work-dir', path.join(dataDir, 'agent-work')];
  if (values.slots) agentArgs.push('--slots', values.slots);
  run('agent', agentArgs);
  console.log(`\nHone is running. Master: ${url}  (web UI: ${url}/)\nTry: npx hone -m ${url} experiment create examples/synthetic/random.yaml examples/synthetic --follow\n`);
});
