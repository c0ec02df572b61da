// Scheduler pass time on large queues, against the time to sort the same queue (the floor any priority scheduler
// pays), and the incremental pass (`scheduleIncremental`, carrying a memo from pass to pass) against the
// from-scratch pass on the same sequence of snapshots: each step the previous pass's assignments start running,
// 1% of the running allocations finish and 50 new ones are submitted (fair share, preemption on). Targets
// (issue 17): 100k allocations on 5k agents <= 20 ms, 10k on 1k <= 1.5 ms. Prints figures, then one JSON object
// as the last line (CPU time is the steadier figure on a busy machine; both are printed).
import { cpus, loadavg } from 'node:os';
import { compareAllocations, schedule, scheduleIncremental, type ScheduleMemo } from '../../master/src/scheduler/index';
import { apply, finish, makeAgents } from '../../master/src/scheduler/testing';
import type { Allocation, Snapshot } from '../../master/src/scheduler/index';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZES = [1, 2, 4, 8, 16];
const PRIORITIES = [10, 30, 42, 42, 42, 60];

function workload(pending: number, agents: number, seed: number, policy: 'priority' | 'fair_share'): Snapshot {
  const rand = mulberry32(seed);
  const groups = Array.from({ length: Math.max(1, Math.floor(pending / 20)) }, (_, i) => ({
    id: `exp${i}`,
    weight: 1 + Math.floor(rand() * 3),
  }));
  const allocations: Allocation[] = Array.from({ length: pending }, (_, i) => ({
    id: `alloc${i}`,
    groupId: groups[Math.floor(rand() * groups.length)].id,
    pool: 'default',
    slots: SIZES[Math.floor(rand() * SIZES.length)],
    priority: PRIORITIES[Math.floor(rand() * PRIORITIES.length)],
    order: i,
    state: 'pending',
  }));
  return { agents: makeAgents(agents, 8, 'default'), allocations, groups, options: { policy, fit: 'best', preemption: true } };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time and median CPU time (user+system of this process) in ms. On a shared, overloaded machine the
 * CPU time is the steadier figure; both are printed. */
function time(fn: () => unknown, runs: number, warmup = 2): { wall: number; cpu: number } {
  for (let i = 0; i < warmup; i++) fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function measure(pending: number, agents: number, runs: number, policy: 'priority' | 'fair_share') {
  const snap = workload(pending, agents, pending + agents, policy);
  const result = schedule(snap);
  const placedSlots = result.assign.reduce((n, a) => n + a.placement.reduce((m, p) => m + p.devices.length, 0), 0);
  const pass = time(() => schedule(snap), runs);
  const sort = time(() => [...snap.allocations].sort(compareAllocations), runs);
  console.log(
    `${policy.padEnd(10)} ${String(pending).padStart(6)} pending on ${String(agents).padStart(5)} agents x 8: ` +
      `pass ${round(pass.wall)} ms (cpu ${round(pass.cpu)}), sort ${round(sort.wall)} ms (cpu ${round(sort.cpu)}), ` +
      `ratio ${round(pass.wall / sort.wall)}, median of ${runs}; ` +
      `${result.assign.length} placed using ${placedSlots}/${agents * 8} slots, ${result.waiting.length} waiting`,
  );
  return { pass: pass.wall, sort: sort.wall, passCpu: pass.cpu, sortCpu: sort.cpu };
}

/** A sequence of snapshots as a busy cluster produces them, then both passes timed over it (median per pass). */
function measureSequence(pending: number, agents: number, steps: number, policy: 'priority' | 'fair_share') {
  const rand = mulberry32(7);
  let snap = workload(pending, agents, pending + agents, policy);
  const seq: Snapshot[] = [];
  let next = pending;
  for (let k = 0; k < steps + 2; k++) {
    seq.push(snap);
    snap = apply(snap, schedule(snap), false);
    const running = snap.allocations.filter((a) => a.state === 'running');
    const done = running.filter(() => rand() < 0.01).map((a) => a.id);
    snap = finish(snap, done);
    const fresh: Allocation[] = Array.from({ length: 50 }, () => ({
      id: `alloc${next}`, groupId: `exp${Math.floor(rand() * Math.max(1, Math.floor(pending / 20)))}`, pool: 'default',
      slots: SIZES[Math.floor(rand() * SIZES.length)], priority: PRIORITIES[Math.floor(rand() * PRIORITIES.length)], order: next++, state: 'pending',
    }));
    snap = { ...snap, allocations: [...snap.allocations, ...fresh] };
  }
  const cpuOf = (fn: () => void): { wall: number; cpu: number } => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const c = process.cpuUsage(c0);
    return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
  };
  const scratch: Array<{ wall: number; cpu: number }> = [];
  const inc: Array<{ wall: number; cpu: number }> = [];
  let memo: ScheduleMemo | undefined;
  for (let k = 0; k < seq.length; k++) {
    const s = seq[k];
    const a = cpuOf(() => schedule(s));
    const b = cpuOf(() => (memo = scheduleIncremental(s, memo).memo));
    if (k >= 2) {
      scratch.push(a);
      inc.push(b);
    }
  }
  const m = (xs: Array<{ wall: number; cpu: number }>) => ({ wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) });
  const r = { scratch: m(scratch), inc: m(inc) };
  console.log(
    `${policy.padEnd(10)} ${String(pending).padStart(6)} pending on ${String(agents).padStart(5)} agents, ${steps} changing passes: ` +
      `from scratch ${round(r.scratch.wall)} ms (cpu ${round(r.scratch.cpu)}), incremental ${round(r.inc.wall)} ms (cpu ${round(r.inc.cpu)}), ` +
      `ratio ${round(r.inc.cpu / r.scratch.cpu)} (cpu)`,
  );
  return r;
}

const small = measure(10_000, 1_000, 15, 'priority');
const large = measure(100_000, 5_000, 7, 'priority');
const fair = measure(10_000, 1_000, 15, 'fair_share');
const fairLarge = measure(100_000, 5_000, 5, 'fair_share');

const incSmall = measureSequence(10_000, 1_000, 5, 'fair_share');
// Fair share with running work and preemption on: the configuration the targets are for.
const incLarge = measureSequence(100_000, 5_000, 3, 'fair_share');
const incSmallP = measureSequence(10_000, 1_000, 5, 'priority');
const incLargeP = measureSequence(100_000, 5_000, 2, 'priority');

const figures = {
  load_average_1m: round(loadavg()[0]),
  cpus: cpus().length,
  pass_ms_median_10k_1k: round(small.pass, 3),
  pass_ms_median_100k_5k: round(large.pass, 3),
  sort_ms_median_10k: round(small.sort, 3),
  sort_ms_median_100k: round(large.sort, 3),
  ratio_to_sort_10k: round(small.pass / small.sort, 3),
  ratio_to_sort_100k: round(large.pass / large.sort, 3),
  pass_cpu_ms_median_10k_1k: round(small.passCpu, 3),
  pass_cpu_ms_median_100k_5k: round(large.passCpu, 3),
  fair_share_pass_ms_median_10k_1k: round(fair.pass, 3),
  fair_share_pass_ms_median_100k_5k: round(fairLarge.pass, 3),
  incremental_fair_share_ms_10k_1k: round(incSmall.inc.wall, 3),
  incremental_fair_share_cpu_ms_10k_1k: round(incSmall.inc.cpu, 3),
  incremental_fair_share_ms_100k_5k: round(incLarge.inc.wall, 3),
  incremental_fair_share_cpu_ms_100k_5k: round(incLarge.inc.cpu, 3),
  scratch_fair_share_cpu_ms_10k_1k: round(incSmall.scratch.cpu, 3),
  scratch_fair_share_cpu_ms_100k_5k: round(incLarge.scratch.cpu, 3),
  incremental_over_scratch_fair_share_10k: round(incSmall.inc.cpu / incSmall.scratch.cpu, 3),
  incremental_over_scratch_fair_share_100k: round(incLarge.inc.cpu / incLarge.scratch.cpu, 3),
  incremental_priority_cpu_ms_10k_1k: round(incSmallP.inc.cpu, 3),
  incremental_priority_cpu_ms_100k_5k: round(incLargeP.inc.cpu, 3),
  incremental_over_scratch_priority_10k: round(incSmallP.inc.cpu / incSmallP.scratch.cpu, 3),
  incremental_over_scratch_priority_100k: round(incLargeP.inc.cpu / incLargeP.scratch.cpu, 3),
  target_10k_1k_ms: 1.5,
  target_100k_5k_ms: 20,
  priority_cpu_over_target_10k_1k: round(small.passCpu / 1.5, 3),
  priority_cpu_over_target_100k_5k: round(large.passCpu / 20, 3),
  incremental_fair_share_cpu_over_target_10k_1k: round(incSmall.inc.cpu / 1.5, 3),
  incremental_fair_share_cpu_over_target_100k_5k: round(incLarge.inc.cpu / 20, 3),
  // The same passes by name: fair share + preemption on a cluster with running work, from scratch and incremental.
  fair_share_preemption_pass_ms_10k_1k: round(incSmall.scratch.wall, 3),
  fair_share_preemption_pass_cpu_ms_10k_1k: round(incSmall.scratch.cpu, 3),
  fair_share_preemption_pass_ms_100k_5k: round(incLarge.scratch.wall, 3),
  fair_share_preemption_pass_cpu_ms_100k_5k: round(incLarge.scratch.cpu, 3),
  fair_share_preemption_cpu_over_target_10k_1k: round(incSmall.scratch.cpu / 1.5, 3),
  fair_share_preemption_cpu_over_target_100k_5k: round(incLarge.scratch.cpu / 20, 3),
};
console.log(JSON.stringify(figures));
