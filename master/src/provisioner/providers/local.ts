// The `local` provider: instances are agent processes on this machine (for development, the README and the
// end-to-end tests). Each launch writes <dir>/<key>.json naming its process, right after spawning it; the agent
// runs detached, so it outlives a master that is killed, as a cloud instance would, and a restarted master finds it
// in the list. A launch with a key that already has a live process starts nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CloudInstance, LaunchRequest, Provider } from './provider';

interface LocalRecord {
  id: string;
  key: string;
  pool: string;
  masterId: string;
  pid: number;
  startedAt: string;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface LocalProviderOptions {
  /** Where instance files, agent work directories and agent logs go. */
  dir: string;
  pool: string;
  masterId: string;
  /** Extra agent flags (`agent_args`). */
  agentArgs: string[];
}

export class LocalProvider implements Provider {
  readonly type = 'local';
  constructor(private readonly opts: LocalProviderOptions) {
    fs.mkdirSync(opts.dir, { recursive: true });
  }

  private file(key: string): string {
    return path.join(this.opts.dir, `${key}.json`);
  }

  private records(): LocalRecord[] {
    const out: LocalRecord[] = [];
    for (const f of fs.readdirSync(this.opts.dir)) {
      if (!f.endsWith('.json')) continue;
      let rec: LocalRecord;
      try {
        rec = JSON.parse(fs.readFileSync(path.join(this.opts.dir, f), 'utf8')) as LocalRecord;
      } catch {
        continue; // being written; the next list sees it
      }
      if (rec.masterId === this.opts.masterId && rec.pool === this.opts.pool) out.push(rec);
    }
    return out;
  }

  async list(): Promise<CloudInstance[]> {
    return this.records().map((r) => ({ id: r.id, key: r.key, cloudId: `pid:${r.pid}`, state: alive(r) ? 'running' : 'terminated' }));
  }

  async launch(req: LaunchRequest): Promise<{ cloudId: string }> {
    const existing = this.records().find((r) => r.key === req.key);
    if (existing && alive(existing)) return { cloudId: `pid:${existing.pid}` };
    const workDir = path.join(this.opts.dir, req.id);
    fs.mkdirSync(workDir, { recursive: true });
    const log = fs.openSync(path.join(this.opts.dir, `${req.id}.log`), 'a');
    const args = [
      '--import',
      'tsx',
      path.join(ROOT, 'agent/src/main.ts'),
      '--master',
      req.masterUrl,
      '--id',
      req.id,
      '--pool',
      req.pool,
      '--slots',
      String(req.slots),
      '--work-dir',
      workDir,
      '--no-gpus',
      ...this.opts.agentArgs,
    ];
    const env: NodeJS.ProcessEnv = { ...process.env };
    // The token travels in the environment, not argv (other users can read a command line).
    if (req.agentToken) env.HONE_AGENT_TOKEN = req.agentToken;
    for (const k of ['HONE_ADMIN_PASSWORD', 'HONE_CONFIG', 'HONE_DB_URL']) delete env[k];
    const child = spawn(process.execPath, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    if (!child.pid) throw new Error('could not start an agent process');
    const rec: LocalRecord = { id: req.id, key: req.key, pool: req.pool, masterId: req.masterId, pid: child.pid, startedAt: new Date().toISOString() };
    const tmp = `${this.file(req.key)}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(rec));
    fs.renameSync(tmp, this.file(req.key));
    child.unref();
    return { cloudId: `pid:${child.pid}` };
  }

  async terminate(instances: Array<{ id: string; cloudId: string | null; key: string }>): Promise<void> {
    const recs = new Map(this.records().map((r) => [r.key, r]));
    const doomed = instances.map((i) => recs.get(i.key)).filter((r): r is LocalRecord => !!r);
    const signal = (r: LocalRecord, sig: NodeJS.Signals) => {
      try {
        if (alive(r)) process.kill(-r.pid, sig);
      } catch {
        /* already gone */
      }
    };
    // All at once: SIGTERM (the agent stops its trials), then SIGKILL what is still there after 5 s.
    for (const r of doomed) signal(r, 'SIGTERM');
    await Promise.all(doomed.map((r) => waitExit(r, 5000)));
    for (const r of doomed) signal(r, 'SIGKILL');
    await Promise.all(doomed.map((r) => waitExit(r, 2000)));
    for (const r of doomed) if (!alive(r)) fs.rmSync(this.file(r.key), { force: true });
  }
}

/** Whether the record's process still runs, and is still our agent (not a reused pid). */
function alive(r: LocalRecord): boolean {
  try {
    process.kill(r.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmd = fs.readFileSync(`/proc/${r.pid}/cmdline`, 'utf8');
    if (!cmd.includes(r.id)) return false;
    const stat = fs.readFileSync(`/proc/${r.pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

async function waitExit(r: LocalRecord, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (alive(r) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
}

/** Kills every local instance process under `dir` (tests' clean-up). Returns how many were alive. */
export function killLocalInstances(dir: string): number {
  let n = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as LocalRecord;
      if (alive(r)) {
        n++;
        process.kill(-r.pid, 'SIGKILL');
      }
    } catch {
      /* gone */
    }
  }
  return n;
}
