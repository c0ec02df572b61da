// bench:control-plane — many short trials on 32 local slots (4 agents × 8), training that costs no CPU (the
// core API, each unit of length a sleep), so what is measured is the control plane and process starts.
// (a) a 300-trial ASHA (async_halving, max_length 16 units, divisor 4, rungs 1/4/16), unit 0.05 s: trials/s,
//     CPU-seconds per trial (master, agents, harness ranks, from /proc), exit-to-next-training gap on a slot,
//     scheduling passes/s, searcher step time, the master's RSS; (b) the same with unit 1 s: slot utilisation
//     while trials wait (see utilisationWhileWaiting). The trials time their own training (model/train.ts), so
//     the figures do not depend on when the master received a metric. Each agent's pool of pre-warmed harnesses
//     is full before each half starts, as on a cluster that has been running. Baseline in the same run: Ray
//     Tune's ASHAScheduler on the same workload (default and reuse_actors=True), from bench/control-plane/.venv
//     (skipped with a message without).
// Flags: --quick (fewer trials), --no-ray, --db-url URL (PostgreSQL instead of the embedded PGlite).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packContext } from '../../cli/src/context';
import { api, startAgentProcess, startMasterProcess, tmpDir, waitFor, ROOT, type Proc } from '../../test/helpers/processes';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noRay = args.includes('--no-ray');
const dbUrl = args.includes('--db-url') ? args[args.indexOf('--db-url') + 1] : undefined;
const AGENTS = Number(process.env.BENCH_AGENTS ?? 4);
const SLOTS = Number(process.env.BENCH_SLOTS ?? 8);
/** BENCH_DUMP=dir: each run's allocations and timings (JSON), the agents' output and the first trials' logs go there (where time goes). */
// BENCH_AGENTS, BENCH_SLOTS: a smaller cluster while iterating; BENCH_LOG_LEVEL: the processes' log level (default warn).
const DUMP = process.env.BENCH_DUMP;
const TRIALS_A = Number(process.env.BENCH_TRIALS ?? (quick ? 96 : 300));
const TRIALS_B = Number(process.env.BENCH_TRIALS_B ?? (quick ? 40 : 300));
const HERE = path.join(ROOT, 'bench/control-plane');
const TICK = 100; // USER_HZ on Linux

const pct = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : NaN);

/**
 * CPU seconds used by the roots and their descendants since the meter was made, split by kind: each root's own
 * (utime+stime) under its name (names may repeat: summed), and under `<name>_children` its descendants' own plus
 * what reaped children left (cutime+cstime): for an agent, its harness processes. Sampled per process, so that a
 * process that ends unreaped (an agent stops a waiting harness by killing its process group) keeps what it used
 * until its last sample instead of taking its earlier CPU with it; sample often (a process's last moments are lost).
 */
class CpuMeter {
  private readonly base = new Map<number, number>();
  private readonly last = new Map<number, { kind: string; cpu: number }>();
  constructor(private readonly roots: Map<number, string>) {
    for (const [pid, v] of this.read()) this.base.set(pid, v.cpu);
  }
  private read(): Map<number, { kind: string; cpu: number }> {
    const parent = new Map<number, number>();
    const used = new Map<number, number[]>();
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        parent.set(Number(d), Number(f[1]));
        used.set(Number(d), [11, 12, 13, 14].map((i) => Number(f[i]) / TICK));
      } catch {
        /* gone */
      }
    }
    const out = new Map<number, { kind: string; cpu: number }>();
    for (const [pid, [ut, st, cut, cst]] of used) {
      const root = this.roots.get(pid);
      if (root !== undefined) {
        out.set(pid, { kind: root, cpu: ut! + st! });
        out.set(-pid, { kind: `${root}_children`, cpu: cut! + cst! }); // what its reaped children used
        continue;
      }
      for (let q: number | undefined = parent.get(pid); q && q !== 1; q = parent.get(q)) {
        const r = this.roots.get(q);
        if (r !== undefined) {
          out.set(pid, { kind: `${r}_children`, cpu: ut! + st! + cut! + cst! });
          break;
        }
      }
    }
    return out;
  }
  sample(): void {
    for (const [pid, v] of this.read()) this.last.set(pid, v);
  }
  /** CPU seconds by kind since the meter was made (after a last sample). */
  used(): Record<string, number> {
    this.sample();
    const out: Record<string, number> = {};
    for (const name of this.roots.values()) Object.assign(out, { [name]: 0, [`${name}_children`]: 0 });
    for (const [pid, v] of this.last) out[v.kind] = (out[v.kind] ?? 0) + Math.max(0, v.cpu - (this.base.get(pid) ?? 0));
    return out;
  }
}
const cpuTotal = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

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

function config(name: string, trials: number, unit: number, timingDir: string): string {
  return `name: ${name}
entrypoint: train.ts
hyperparameters:
  unit_s: ${unit}
  timing_dir: ${JSON.stringify(timingDir)}
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
  trialIds: number[];
  wallS: number;
  cpuS: number;
  /** CPU seconds by process kind (CpuMeter). */
  cpu: Record<string, number>;
  /** Each allocation, with when its first operation's training began (the trial's own clock; null: none). */
  allocations: Array<{ agent: string; createdAt: number; startedAt: number; endedAt: number; trainStart: number | null }>;
  /** Every operation's training, [start, end] in epoch ms. */
  training: Array<[number, number]>;
  counters: Record<string, number>;
  masterRssMb: number;
}

async function runExperiment(url: string, token: string, roots: Map<number, string>, masterPid: number, name: string, trials: number, unit: number): Promise<RunResult> {
  const { data } = await packContext(path.join(HERE, 'model'), 8 << 20);
  // Where the trials say when they trained (model/train.ts): writable by the ranks' unprivileged user.
  const timingDir = fs.mkdtempSync(path.join(os.tmpdir(), `hone-cp-timing-${name}-`));
  fs.chmodSync(timingDir, 0o777);
  const c0 = await promCounters(url, token);
  const meter = new CpuMeter(roots);
  const t0 = performance.now();
  const created = await api<{ id: number }>(url, 'POST', '/experiments', { config: config(name, trials, unit, timingDir), context: data.toString('base64') });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const id = created.body.id;
  let rss = 0;
  const exp = await waitFor(
    `experiment ${id}`,
    async () => {
      rss = Math.max(rss, rssMb(masterPid));
      meter.sample();
      const e = (await api<any>(url, 'GET', `/experiments/${id}`)).body;
      return ['COMPLETED', 'CANCELED', 'ERROR'].includes(e.state) ? e : null;
    },
    1_800_000,
    500,
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpu = meter.used();
  const cpuS = cpuTotal(cpu);
  const c1 = await promCounters(url, token);
  const counters = Object.fromEntries(Object.keys(c1).map((k) => [k, c1[k]! - (c0[k] ?? 0)]));
  if (exp.state !== 'COMPLETED') console.log(`experiment ${id} ended ${exp.state}`);
  const allocations: RunResult['allocations'] = [];
  const training: Array<[number, number]> = [];
  const opsOf = new Map<string, number[]>();
  for (const f of fs.readdirSync(timingDir)) {
    for (const l of fs.readFileSync(path.join(timingDir, f), 'utf8').split('\n')) {
      if (!l) continue;
      const o = JSON.parse(l) as { allocation: string; start: number; end: number };
      training.push([o.start, o.end]);
      opsOf.set(o.allocation, [...(opsOf.get(o.allocation) ?? []), o.start]);
    }
  }
  for (const t of exp.trials as Array<{ id: number }>) {
    const d = (await api<any>(url, 'GET', `/trials/${t.id}`)).body;
    for (const a of d.allocations as any[]) {
      if (!a.startedAt || !a.endedAt) continue;
      const ops = opsOf.get(a.id) ?? [];
      allocations.push({ agent: a.agents[0], createdAt: Date.parse(a.createdAt), startedAt: Date.parse(a.startedAt), endedAt: Date.parse(a.endedAt), trainStart: ops.length ? Math.min(...ops) : null });
    }
  }
  return { trials: exp.trials.length, trialIds: exp.trials.map((t: { id: number }) => t.id), wallS, cpuS, cpu, allocations, training, counters, masterRssMb: rss };
}

/** Per agent, each allocation's start takes the earliest slot freed before it: gap = its training start − that exit. */
function slotGaps(allocs: RunResult['allocations']): number[] {
  const gaps: number[] = [];
  const byAgent = new Map<string, RunResult['allocations']>();
  for (const a of allocs) byAgent.set(a.agent, [...(byAgent.get(a.agent) ?? []), a]);
  for (const list of byAgent.values()) {
    const ends = list.map((a) => a.endedAt).sort((x, y) => x - y);
    const starts = list.filter((a) => a.trainStart !== null).sort((x, y) => x.startedAt - y.startedAt);
    let e = 0;
    for (const s of starts) {
      if (e < ends.length && ends[e]! <= s.startedAt) gaps.push((s.trainStart! - ends[e++]!) / 1000);
    }
  }
  return gaps;
}

/**
 * Slot utilisation while trials wait: slot-seconds inside training (the trials' own timestamps) over slot-seconds
 * available, from the experiment's first allocation until its last allocation started. Until then some of the
 * search's work had not started (a trial the searcher was yet to create, or one waiting for a slot: with
 * max_concurrent_trials equal to the slots, the searcher holds back what the slots cannot take); the tail after
 * it, when fewer trials remain than slots, is not the control plane's to fill.
 */
function utilisationWhileWaiting(r: RunResult, slots: number): number {
  const from = Math.min(...r.allocations.map((a) => a.createdAt));
  const to = Math.max(...r.allocations.map((a) => a.startedAt));
  let busy = 0;
  for (const [s, e] of r.training) busy += Math.max(0, Math.min(e, to) - Math.max(s, from));
  return to > from ? busy / (slots * (to - from)) : NaN;
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

/** Pre-warmed harnesses an agent holds ready for any task, from its debug log: ready, less those taken or gone. */
function poolSize(ag: Proc): number {
  let n = 0;
  for (const l of ag.output) {
    if (l.includes('pre-warmed harness ready')) n++;
    else if (l.includes('pre-warmed harness exited') || (l.includes('"prewarmed":true') && l.includes('"reused":false'))) n--;
  }
  return n;
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const dataDir = tmpDir('bench-cp');
const env = { HONE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' };
// BENCH_MASTER_NODE_ARGS: Node options for the master only (e.g. `--cpu-prof --cpu-prof-dir=DIR` to see where its time goes).
const nodeArgs = (process.env.BENCH_MASTER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const master = await startMasterProcess({ dataDir, env, nodeArgs, ...(dbUrl ? { dbUrl } : {}) });
const agents: Proc[] = [];
const result: Record<string, unknown> = { db: dbUrl ? 'postgresql' : 'pglite', agents: AGENTS, slots_per_agent: SLOTS, load_avg_start: loadavg() };
try {
  // The agents log at debug level (their output stays in this process) so that the bench sees their pools fill.
  const agentEnv = { ...env, HONE_LOG_LEVEL: 'debug' };
  for (let i = 0; i < AGENTS; i++) agents.push(startAgentProcess({ masterUrl: master.url, id: `cp-${i}`, slots: SLOTS, workDir: path.join(dataDir, `work-${i}`), env: agentEnv }));
  await waitFor('agents', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.filter((a) => a.state === 'CONNECTED').length === AGENTS, 120_000);
  // As on a cluster that has been running (and as Ray's raylet prestarts a worker per CPU): each agent's pool of
  // pre-warmed harnesses, one per slot, is full before the clock starts.
  const poolsFull = async (): Promise<number> => {
    const t = performance.now();
    await waitFor('pre-warmed pools', async () => agents.every((ag) => poolSize(ag) >= SLOTS), 300_000, 250);
    return +((performance.now() - t) / 1000).toFixed(1);
  };
  result.prewarm_pool_fill_s = await poolsFull();
  console.log(`pre-warmed pools full (${AGENTS} x ${SLOTS}) after ${result.prewarm_pool_fill_s} s`);
  /** BENCH_DUMP: a run's allocations and timings, the agents' output so far, and its first trials' logs, details and validations. */
  const dump = async (name: string, r: RunResult): Promise<void> => {
    if (!DUMP) return;
    fs.mkdirSync(DUMP, { recursive: true });
    fs.writeFileSync(path.join(DUMP, `${name}.json`), JSON.stringify(r, null, 1));
    agents.forEach((ag, i) => fs.writeFileSync(path.join(DUMP, `agent-${i}.log`), ag.output.join('\n')));
    for (const tid of r.trialIds.slice(0, 12)) {
      const get = async (p: string) => (await api<any>(master.url, 'GET', p)).body;
      fs.writeFileSync(path.join(DUMP, `${name}-trial-${tid}.log`), JSON.stringify(await get(`/trials/${tid}/logs`), null, 1));
      fs.writeFileSync(path.join(DUMP, `${name}-trial-${tid}.json`), JSON.stringify({ trial: await get(`/trials/${tid}`), validation: await get(`/trials/${tid}/metrics?group=validation&raw=true`) }, null, 1));
    }
  };
  const roots = new Map<number, string>([[master.child.pid!, 'master'], ...agents.map((a) => [a.child.pid!, 'agent'] as [number, string])]);

  const a = await runExperiment(master.url, master.token, roots, master.child.pid!, 'cp-a', TRIALS_A, 0.05);
  await dump('a', a);
  const gaps = slotGaps(a.allocations);
  const passes = a.counters.hone_scheduling_passes_total ?? NaN;
  const steps = a.counters.hone_searcher_steps_total ?? NaN;
  Object.assign(result, {
    a_trials: a.trials,
    a_allocations: a.allocations.length,
    a_wall_s: +a.wallS.toFixed(1),
    a_trials_per_s: +(a.trials / a.wallS).toFixed(3),
    a_cpu_s_per_trial: +(a.cpuS / a.trials).toFixed(3),
    a_cpu_s_per_trial_master: +((a.cpu.master! + a.cpu.master_children!) / a.trials).toFixed(3),
    a_cpu_s_per_trial_agent: +(a.cpu.agent! / a.trials).toFixed(3),
    a_cpu_s_per_trial_harness: +(a.cpu.agent_children! / a.trials).toFixed(3),
    a_gap_p50_s: +pct(gaps, 0.5).toFixed(3),
    a_gap_p99_s: +pct(gaps, 0.99).toFixed(3),
    a_scheduling_passes_per_s: +(passes / a.wallS).toFixed(2),
    a_scheduling_pass_ms: +((1000 * (a.counters.hone_scheduling_pass_seconds_total ?? NaN)) / passes).toFixed(2),
    a_searcher_step_ms: +((1000 * (a.counters.hone_searcher_step_seconds_total ?? NaN)) / steps).toFixed(3),
    a_searcher_steps: steps,
    a_master_rss_mb: Math.round(a.masterRssMb),
    a_load_avg: loadavg(),
  });
  console.log(`(a) ${a.trials} trials in ${a.wallS.toFixed(1)} s: ${result.a_trials_per_s} trials/s, ${result.a_cpu_s_per_trial} CPU-s/trial (master ${result.a_cpu_s_per_trial_master}, agents ${result.a_cpu_s_per_trial_agent}, harnesses ${result.a_cpu_s_per_trial_harness}), gap p50 ${result.a_gap_p50_s} s p99 ${result.a_gap_p99_s} s, ${result.a_scheduling_passes_per_s} passes/s (${result.a_scheduling_pass_ms} ms each), searcher step ${result.a_searcher_step_ms} ms, master RSS ${result.a_master_rss_mb} MB`);

  // (a)'s processes waited for its next trial; told that it ended, the agents replace them with pre-warmed ones.
  result.prewarm_pool_refill_s = await poolsFull();
  console.log(`pre-warmed pools refilled after ${result.prewarm_pool_refill_s} s`);
  const b = await runExperiment(master.url, master.token, roots, master.child.pid!, 'cp-b', TRIALS_B, 1);
  await dump('b', b);
  Object.assign(result, {
    b_trials: b.trials,
    b_wall_s: +b.wallS.toFixed(1),
    b_trials_per_s: +(b.trials / b.wallS).toFixed(3),
    b_utilisation_while_waiting: +utilisationWhileWaiting(b, AGENTS * SLOTS).toFixed(3),
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
