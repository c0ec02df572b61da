// bench:cli — wall time of `hone experiment list` against a running master (a few experiments in it), from
// process start to exit, as a user at a shell waits for it. Baselines in the same run: `node -e 0` (what any
// Node program pays to start) and the CLI run from its TypeScript sources through tsx (what every command cost
// before the bundle, and what it costs while a source is newer than the bundle). Target: ≤ 300 ms.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freshBuild } from '../../cli/bin/built.js';
import { api, ROOT, startMasterProcess, tmpDir } from '../../test/helpers/processes';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const TARGET_MS = 300;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let TOKEN = '';

function timeOnce(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    // Signed in as the master's admin session, as a user of `hone` would be.
    const c = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(TOKEN ? { HONE_TOKEN: TOKEN } : {}) } });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')} exited ${code}: ${err}`))));
  });
}

const build = spawnSync(process.execPath, ['cli/scripts/build.js'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0 || !freshBuild()) throw new Error('the CLI bundle did not build (or a source changed meanwhile); the figure would be the tsx fallback');

const dataDir = tmpDir('bench-cli');
const master = await startMasterProcess({ dataDir, env: { HONE_LOG_LEVEL: 'warn' } });
TOKEN = master.token;
try {
  const config = fs.readFileSync(path.join(ROOT, 'examples/synthetic/random.yaml'), 'utf8');
  for (let i = 0; i < 5; i++) {
    const r = await api(master.url, 'POST', '/experiments', { config, activate: false });
    if (r.status !== 201) throw new Error(JSON.stringify(r.body));
  }
  const list = ['experiment', 'list', '-m', master.url];
  const cases = {
    hone: ['cli/bin/hone.js', ...list],
    node: ['-e', '0'],
    tsx: ['--import', 'tsx', 'cli/src/main.ts', ...list],
  };
  const times: Record<keyof typeof cases, number[]> = { hone: [], node: [], tsx: [] };
  // One warm-up of each (file cache), then the cases interleaved so that load on the machine hits all alike.
  for (const args of Object.values(cases)) await timeOnce(args);
  for (let i = 0; i < RUNS; i++) {
    for (const [name, args] of Object.entries(cases) as Array<[keyof typeof cases, string[]]>) {
      if (name === 'tsx' && i >= Math.ceil(RUNS / 3)) continue;
      times[name].push(await timeOnce(args));
    }
  }
  if (!freshBuild()) throw new Error('a source changed during the run, so some hone runs were the tsx fallback; run it again');
  const hone = median(times.hone);
  const node = median(times.node);
  const tsx = median(times.tsx);
  const result = {
    hone_experiment_list_ms: Math.round(hone),
    node_e_0_ms: Math.round(node),
    ratio_to_node: Number((hone / node).toFixed(2)),
    from_sources_tsx_ms: Math.round(tsx),
    speedup_vs_tsx: Number((tsx / hone).toFixed(2)),
    target_ms: TARGET_MS,
    runs: RUNS,
  };
  console.log(`median hone experiment list: ${result.hone_experiment_list_ms} ms (target <= ${TARGET_MS}); node -e 0: ${result.node_e_0_ms} ms (ratio ${result.ratio_to_node})`);
  console.log(`from the TypeScript sources through tsx: ${result.from_sources_tsx_ms} ms (${result.speedup_vs_tsx}x slower)`);
  console.log(JSON.stringify(result));
} finally {
  await master.kill();
}
