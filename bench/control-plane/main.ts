// bench:control-plane — many short trials on 32 local slots (4 agents × 8), training that costs no CPU (the
// core API, each unit of length a sleep), so what is measured is the control plane and process starts.
// (a) a 300-trial ASHA (async_halving, max_length 16 units, divisor 4, rungs 1/4/16), unit 0.05 s: trials/s,
//     CPU-seconds per trial (master + agents + harness ranks, from /proc), exit-to-next-first-step gap on a slot,
//     scheduling passes/s, searcher step time, the master's RSS; (b) the same with unit 1 s and fewer trials:
//     slot utilisation while trials wait. Baseline in the same run: Ray Tune's ASHAScheduler on the same
//     workload (default and reuse_actors=True), from bench/control-plane/.venv (skipped with a message without).
// Flags: --quick (fewer trials), --no-ray, --db-url URL (PostgreSQL instead of the embedded PGlite).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packContext } from '../../cli/src/context';
import { api, startAgentProcess, startMasterProcess, tmpDir, waitFor, ROOT, type Proc } from '../../test/helpers/processes';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noRay = args.includes('--no-ray');
const dbUrl = args.includes('--db-url') ? args[args.indexOf('--db-url') + 1] : undefined;
const AGENTS = Number(process.env.BENCH_AGENTS ?? 4);
const SLOTS = Number(process.env.BENCH_SLOTS ?? 8);
/** BENCH_DUMP=dir: run (a)'s allocations (JSON), the agents' output and the first trials' logs go there (where time goes). */
// BENCH_AGENTS, BENCH_SLOTS: a smaller cluster while iterating; BENCH_LOG_LEVEL: the processes' log level (default warn).
const DUMP = process.env.BENCH_DUMP;
const TRIALS_A = Number(process.env.BENCH_TRIALS ?? (quick ? 96 : 300));
const TRIALS_B = Number(process.env.BENCH_TRIALS_B ?? (quick ? 40 : 64));
const HERE = path.join(ROOT, 'bench/control-plane');
const TICK = 100; // USER_HZ on Linux

const pct = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : NaN);

/** CPU seconds of pid and its descendants: live ones' utime+stime, plus what reaped children left (cutime+cstime). */
function treeCpu(roots: number[]): number {
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      cpu.set(Number(d), (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK);
    } catch {
      /* gone */
    }
  }
  const rootSet = new Set(roots);
  let total = 0;
  for (const [pid, c] of cpu) {
    for (let q: number | undefined = pid; q; q = parent.get(q)) {
      if (rootSet.has(q)) {
        total += c;
        break;
      }
      if (q === 1) break;
    }
  }
  return total;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function promCounters(url: string, token: string): Promise<Record<string, number>> {
  const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const out: Record<string, number> = {};
  for (const l of (await r.text()).split('\n')) {
    const m = /^(hone_(?:scheduling|searcher)_[a-z_]+) ([0-9.e+-]+)$/.exec(l);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

function config(name: string, trials: number, unit: number): string {
  return `name: ${name}
entrypoint: train.ts
hyperparameters:
  unit_s: ${unit}
  x: {type: double, minval: 0, maxval: 1}
searcher:
  name: async_halving
  metric: validation_loss
  smaller_is_better: true
  max_trials: ${trials}
  max_concurrent_trials: ${AGENTS * SLOTS}
  max_length: {batches: 16}
  num_rungs: 3
  divisor: 4
max_restarts: 0
`;
}

interface RunResult {
  trials: number;
  wallS: number;
  cpuS: number;
  allocations: Array<{ agent: string; createdAt: number; startedAt: number; endedAt: number; firstStep: number | null }>;
  counters: Record<string, number>;
  masterRssMb: number;
}

async function runExperiment(url: string, token: string, roots: number[], masterPid: number, name: string, trials: number, unit: number): Promise<RunResult> {
  const { data } = await packContext(path.join(HERE, 'model'), 8 << 20);
  const c0 = await promCounters(url, token);
  const cpu0 = treeCpu(roots);
  const t0 = performance.now();
  const created = await api<{ id: number }>(url, 'POST', '/experiments', { config: config(name, trials, unit), context: data.toString('base64') });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const id = created.body.id;
  let rss = 0;
  const exp = await waitFor(
    `experiment ${id}`,
    async () => {
      rss = Math.max(rss, rssMb(masterPid));
      const e = (await api<any>(url, 'GET', `/experiments/${id}`)).body;
      return ['COMPLETED', 'CANCELED', 'ERROR'].includes(e.state) ? e : null;
    },
    1_800_000,
    500,
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = treeCpu(roots) - cpu0;
  const c1 = await promCounters(url, token);
  const counters = Object.fromEntries(Object.keys(c1).map((k) => [k, c1[k]! - (c0[k] ?? 0)]));
  if (exp.state !== 'COMPLETED') console.log(`experiment ${id} ended ${exp.state}`);
  const allocations: RunResult['allocations'] = [];
  for (const t of exp.trials as Array<{ id: number }>) {
    const d = (await api<any>(url, 'GET', `/trials/${t.id}`)).body;
    const m = (await api<any>(url, 'GET', `/trials/${t.id}/metrics?group=training&raw=true&limit=10`)).body;
    const first = m.points?.[0]?.reportedAt ? Date.parse(m.points[0].reportedAt) : null;
    for (const [i, a] of (d.allocations as any[]).entries()) {
      if (!a.startedAt || !a.endedAt) continue;
      allocations.push({ agent: a.agents[0], createdAt: Date.parse(a.createdAt), startedAt: Date.parse(a.startedAt), endedAt: Date.parse(a.endedAt), firstStep: i === 0 ? first : null });
    }
  }
  return { trials: exp.trials.length, wallS, cpuS, allocations, counters, masterRssMb: rss };
}

/** Per agent, each allocation's start takes the earliest slot freed before it: gap = its first step − that exit. */
function slotGaps(allocs: RunResult['allocations']): number[] {
  const gaps: number[] = [];
  const byAgent = new Map<string, RunResult['allocations']>();
  for (const a of allocs) byAgent.set(a.agent, [...(byAgent.get(a.agent) ?? []), a]);
  for (const list of byAgent.values()) {
    const ends = list.map((a) => a.endedAt).sort((x, y) => x - y);
    const starts = list.filter((a) => a.firstStep !== null).sort((x, y) => x.startedAt - y.startedAt);
    let e = 0;
    for (const s of starts) {
      if (e < ends.length && ends[e]! <= s.startedAt) gaps.push((s.firstStep! - ends[e++]!) / 1000);
    }
  }
  return gaps;
}

/** Slot-seconds inside training over slot-seconds available while some allocation waits (created, not started). */
function utilisationWhileWaiting(allocs: RunResult['allocations'], slots: number): number {
  const ev: Array<[number, number, number]> = []; // time, d(waiting), d(training)
  for (const a of allocs) {
    ev.push([a.createdAt, 1, 0], [a.startedAt, -1, 0]);
    if (a.firstStep !== null) ev.push([a.firstStep, 0, 1], [a.endedAt, 0, -1]);
    else ev.push([a.startedAt, 0, 1], [a.endedAt, 0, -1]); // a promoted re-run: count from its start
  }
  ev.sort((x, y) => x[0] - y[0]);
  let waiting = 0;
  let training = 0;
  let busy = 0;
  let avail = 0;
  for (let i = 0; i < ev.length; i++) {
    const [t, dw, dt] = ev[i]!;
    waiting += dw;
    training += dt;
    const next = ev[i + 1]?.[0] ?? t;
    if (waiting > 0) {
      busy += Math.min(training, slots) * (next - t);
      avail += slots * (next - t);
    }
  }
  return avail > 0 ? busy / avail : NaN;
}

function rayPython(): string | null {
  const py = path.join(HERE, '.venv/bin/python');
  if (!fs.existsSync(py)) return null;
  return spawnSync(py, ['-c', 'import ray.tune'], { stdio: 'ignore' }).status === 0 ? py : null;
}

async function rayRun(py: string, mode: string, trials: number): Promise<any> {
  return new Promise((resolve) => {
    const c = spawn(py, [path.join(HERE, 'ray_asha.py'), '--mode', mode, '--trials', String(trials), '--concurrency', String(AGENTS * SLOTS), '--unit', '0.05'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', () => {
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (!line) console.log(`ray ${mode} failed: ${err.slice(-2000)}`);
      resolve(line ? JSON.parse(line) : null);
    });
  });
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const dataDir = tmpDir('bench-cp');
const env = { HONE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' };
const master = await startMasterProcess({ dataDir, env, ...(dbUrl ? { dbUrl } : {}) });
const agents: Proc[] = [];
const result: Record<string, unknown> = { db: dbUrl ? 'postgresql' : 'pglite', agents: AGENTS, slots_per_agent: SLOTS, load_avg_start: loadavg() };
try {
  for (let i = 0; i < AGENTS; i++) agents.push(startAgentProcess({ masterUrl: master.url, id: `cp-${i}`, slots: SLOTS, workDir: path.join(dataDir, `work-${i}`), env }));
  await waitFor('agents', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.filter((a) => a.state === 'CONNECTED').length === AGENTS, 120_000);
  await new Promise((r) => setTimeout(r, 5000)); // let pre-warmed harnesses start
  const roots = [master.child.pid!, ...agents.map((a) => a.child.pid!)];

  const a = await runExperiment(master.url, master.token, roots, master.child.pid!, 'cp-a', TRIALS_A, 0.05);
  if (DUMP) {
    fs.mkdirSync(DUMP, { recursive: true });
    fs.writeFileSync(path.join(DUMP, 'a.json'), JSON.stringify(a, null, 1));
    agents.forEach((ag, i) => fs.writeFileSync(path.join(DUMP, `agent-${i}.log`), ag.output.join('\n')));
    for (let tid = 1; tid <= 4; tid++) fs.writeFileSync(path.join(DUMP, `trial-${tid}.log`), JSON.stringify((await api<any>(master.url, 'GET', `/trials/${tid}/logs`)).body, null, 1));
  }
  const gaps = slotGaps(a.allocations);
  const passes = a.counters.hone_scheduling_passes_total ?? NaN;
  const steps = a.counters.hone_searcher_steps_total ?? NaN;
  Object.assign(result, {
    a_trials: a.trials,
    a_allocations: a.allocations.length,
    a_wall_s: +a.wallS.toFixed(1),
    a_trials_per_s: +(a.trials / a.wallS).toFixed(3),
    a_cpu_s_per_trial: +(a.cpuS / a.trials).toFixed(3),
    a_gap_p50_s: +pct(gaps, 0.5).toFixed(3),
    a_gap_p99_s: +pct(gaps, 0.99).toFixed(3),
    a_scheduling_passes_per_s: +(passes / a.wallS).toFixed(2),
    a_scheduling_pass_ms: +((1000 * (a.counters.hone_scheduling_pass_seconds_total ?? NaN)) / passes).toFixed(2),
    a_searcher_step_ms: +((1000 * (a.counters.hone_searcher_step_seconds_total ?? NaN)) / steps).toFixed(3),
    a_searcher_steps: steps,
    a_master_rss_mb: Math.round(a.masterRssMb),
    a_load_avg: loadavg(),
  });
  console.log(`(a) ${a.trials} trials in ${a.wallS.toFixed(1)} s: ${result.a_trials_per_s} trials/s, ${result.a_cpu_s_per_trial} CPU-s/trial, gap p50 ${result.a_gap_p50_s} s p99 ${result.a_gap_p99_s} s, ${result.a_scheduling_passes_per_s} passes/s (${result.a_scheduling_pass_ms} ms each), searcher step ${result.a_searcher_step_ms} ms, master RSS ${result.a_master_rss_mb} MB`);

  const b = await runExperiment(master.url, master.token, roots, master.child.pid!, 'cp-b', TRIALS_B, 1);
  Object.assign(result, {
    b_trials: b.trials,
    b_wall_s: +b.wallS.toFixed(1),
    b_trials_per_s: +(b.trials / b.wallS).toFixed(3),
    b_utilisation_while_waiting: +utilisationWhileWaiting(b.allocations, AGENTS * SLOTS).toFixed(3),
    b_load_avg: loadavg(),
  });
  console.log(`(b) ${b.trials} trials (unit 1 s) in ${b.wallS.toFixed(1)} s: slot utilisation while trials wait ${result.b_utilisation_while_waiting} (target >= 0.5)`);
} finally {
  for (const ag of agents) await ag.kill();
  await master.kill();
}

const py = noRay ? null : rayPython();
if (!py) {
  console.log(noRay ? 'Ray Tune half skipped (--no-ray)' : `Ray Tune half skipped: no ${path.join(HERE, '.venv')} with ray[tune] (python3 -m venv bench/control-plane/.venv && bench/control-plane/.venv/bin/pip install 'ray[tune]')`);
} else {
  for (const mode of ['default', 'reuse']) {
    const r = await rayRun(py, mode, TRIALS_A);
    if (!r) continue;
    result[`ray_${mode}_trials_per_s`] = +r.trials_per_s.toFixed(3);
    result[`ray_${mode}_cpu_s_per_trial`] = +r.cpu_s_per_trial.toFixed(3);
    console.log(`Ray Tune ${mode}: ${r.trials} trials in ${r.wall_s.toFixed(1)} s: ${r.trials_per_s.toFixed(3)} trials/s, ${r.cpu_s_per_trial.toFixed(2)} CPU-s/trial`);
  }
  const best = Math.max(Number(result.ray_default_trials_per_s ?? 0), Number(result.ray_reuse_trials_per_s ?? 0));
  if (best > 0) {
    result.ratio_to_best_ray = +(Number(result.a_trials_per_s) / best).toFixed(2);
    console.log(`Hone / best Ray Tune mode, trials/s: ${result.ratio_to_best_ray} (target >= 1.5)`);
  }
}
result.load_avg_end = loadavg();
result.targets = { ratio_to_best_ray: 1.5, b_utilisation_while_waiting: 0.5 };
console.log(JSON.stringify(result));
process.exit(0);
