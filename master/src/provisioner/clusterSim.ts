// A discrete-event simulation of the whole control loop on a simulated clock: the experiment's searcher
// (searcher/), the scheduler (scheduler/) and the pool's provisioner decide() — the same pure functions the master
// runs — against a simulated cloud (boot delay, capacity errors, spot interruptions, leaked instances) or a fixed
// set of slots. The forecast (`hone experiment forecast`) and the provisioner's simulation test both run it.
//
// Model. Every `train` action of the searcher is work for its trial; a trial with work and no allocation gets a
// pending gang of slots_per_trial, requested when the work arrives. The scheduler places gangs on registered agents;
// a placed gang starts no sooner than `gapSeconds` after its request (the master creating the trial and its
// allocation), pays `startupSeconds` once (the model directory arriving, the harness starting), then trains
// (to - trained) units at `secondsPerUnit(hparams)` each, with a validation (`validationSeconds`) every
// `validationEvery` units and a checkpoint (`checkpointSeconds`) every `checkpointEvery` units on the way and one
// of each at the end, and reports; if the searcher answers with more work for that trial at once, it carries on in
// the same allocation, else the allocation holds its slots `exitSeconds` more (the process exiting) and ends.
// The provisioner runs every reconcile_interval and whenever work arrives or ends; launched instances register
// after `bootSeconds`.
import type { ExperimentConfig, ForecastTimelinePoint, HParams } from '@hone/protocol';
import { initSearcher, stepSearcher, type SearcherAction, type SearcherEvent, type SearcherState } from '../searcher';
import { schedule, type Agent, type Allocation, type Placement } from '../scheduler';
import { decide } from './decide';
import { provisionerSnapshot, type AllocationView } from './snapshot';
import type { Decision, InstanceState, ProviderConfig, ProvisionerSnapshot } from './types';

export interface SimCloud {
  /** Seconds from launch to the agent registering. */
  bootSeconds: number;
  /** Whether the launch at this simulated time (seconds) fails with a capacity error (i: launch counter). */
  capacityError?: (t: number, i: number) => boolean;
  /** Seconds after registering that the instance is interrupted (spot), or undefined (i: launch counter). */
  interruptAfter?: (i: number) => number | undefined;
  /** The cloud list fails at this time (the provisioner must then change nothing). */
  listFails?: (t: number) => boolean;
  /** Instances that exist tagged for this pool at t=0 but are unknown to the rows (a previous master's leak). */
  leaked?: number;
  /** Launches that start an instance without it ever registering (i: launch counter). */
  neverRegisters?: (i: number) => boolean;
}

export interface ClusterSimOptions {
  config: Pick<ExperimentConfig, 'searcher' | 'hyperparameters' | 'resources'>;
  seed: number;
  /** A provisioned pool: its provider config and cloud model; or fixed slots (`--slots N`). */
  pool: { provider: ProviderConfig; cloud: SimCloud } | { fixedSlots: number; slotsPerAgent?: number };
  secondsPerUnit: (hparams: HParams) => number;
  /** Per-allocation start-up (shorthand for overheads.startupSeconds). */
  startupSeconds?: number;
  /** What a trial pays besides training (see the model above); all default to 0, periods to none. */
  overheads?: Partial<SimOverheads>;
  /** Metric a trial reports at `length` (default: a deterministic pseudo-random value per trial, improving with length). */
  objective?: (hparams: HParams, length: number, requestId: string) => number;
  /** Called with every provisioner decision (for invariant checks). */
  onDecision?: (s: ProvisionerSnapshot, d: Decision, now: number) => void;
  /** Called when an instance is terminated while it holds an allocation (must never happen). */
  onViolation?: (msg: string) => void;
  /** Stop after this much simulated time (seconds). */
  maxSeconds?: number;
  /** Timeline points kept at most (evenly thinned). */
  maxTimelinePoints?: number;
}

export interface SimOverheads {
  startupSeconds: number;
  gapSeconds: number;
  exitSeconds: number;
  validationSeconds: number;
  checkpointSeconds: number;
  /** Units between periodic validations / checkpoints (min_validation_period, min_checkpoint_period); null: none. */
  validationEvery: number | null;
  checkpointEvery: number | null;
}

/** Multiples of `every` strictly between `from` and `to`: the periodic validations (or checkpoints) of a stretch. */
export function periodicBetween(from: number, to: number, every: number | null): number {
  if (!every || every <= 0 || to <= from) return 0;
  const eps = every * 1e-9;
  const firstK = Math.floor((from + eps) / every) + 1;
  const lastK = Math.ceil((to - eps) / every) - 1;
  return Math.max(0, lastK - firstK + 1);
}

/** One sample of the simulated run (the forecast's timeline). */
export type TimelinePoint = ForecastTimelinePoint;

export interface ClusterSimResult {
  wallClockSeconds: number;
  finished: boolean;
  trials: number;
  unitsTrained: number;
  slotSeconds: number;
  busySlotSeconds: number;
  instanceSeconds: number;
  peakInstances: number;
  slotUtilization: number;
  launches: number;
  launchFailures: number;
  terminations: Record<string, number>;
  timeline: TimelinePoint[];
  /** Instance-seconds of a provisioner that knows the future (work packed perfectly, one boot per peak instance). */
  oracleInstanceSeconds: number;
}

interface SimInstance {
  id: string;
  n: number;
  state: InstanceState;
  createdAt: number;
  registeredAt?: number;
  idleSince: number | null;
  registers: boolean;
  leaked?: boolean;
}

interface SimAlloc {
  id: string;
  requestId: string;
  slots: number;
  order: number;
  placement?: Placement[];
  /** When its trial asked for it (simulated seconds). */
  requestedAt: number;
  /** Training to this length now (undefined: pending, or exiting). */
  target?: number;
}

type EvBody = { t: number } & ({ kind: 'done'; alloc: string } | { kind: 'exit'; alloc: string } | { kind: 'register'; inst: string } | { kind: 'interrupt'; inst: string } | { kind: 'tick' });
type Ev = EvBody & { seq: number };

/** A stable pseudo-random number in [0, 1) from a string. */
function hash01(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 1_000_003) / 1_000_003;
}

export function simulateCluster(o: ClusterSimOptions): ClusterSimResult {
  const slotsPerTrial = o.config.resources.slots_per_trial;
  const maxSlots = o.config.resources.max_slots;
  const oh: SimOverheads = {
    startupSeconds: o.overheads?.startupSeconds ?? o.startupSeconds ?? 0,
    gapSeconds: o.overheads?.gapSeconds ?? 0,
    exitSeconds: o.overheads?.exitSeconds ?? 0,
    validationSeconds: o.overheads?.validationSeconds ?? 0,
    checkpointSeconds: o.overheads?.checkpointSeconds ?? 0,
    validationEvery: o.overheads?.validationEvery ?? null,
    checkpointEvery: o.overheads?.checkpointEvery ?? null,
  };
  const objective = o.objective ?? ((_h: HParams, length: number, id: string) => (1 + hash01(id)) / Math.sqrt(1 + length));
  const provisioned = 'provider' in o.pool ? o.pool : null;
  const S = provisioned ? provisioned.provider.slots_per_instance : (o.pool as { slotsPerAgent?: number }).slotsPerAgent ?? Math.max(slotsPerTrial, 1);
  const maxSeconds = o.maxSeconds ?? 365 * 24 * 3600;

  const events: Ev[] = [];
  let seq = 0;
  const push = (e: EvBody): void => {
    const ev = { ...e, seq: seq++ } as Ev;
    let i = events.length;
    while (i > 0 && (events[i - 1]!.t > ev.t || (events[i - 1]!.t === ev.t && events[i - 1]!.seq > ev.seq))) i--;
    events.splice(i, 0, ev);
  };

  // ---- searcher ----
  let state: SearcherState;
  const trials = new Map<string, { hparams: HParams; trained: number; queue: number[]; open: boolean; exitPending?: boolean }>();
  let finished = false;
  let unitsTrained = 0;
  const feed = (e: SearcherEvent) => {
    const r = stepSearcher(state, e);
    state = r.state;
    act(r.actions);
  };
  const act = (actions: SearcherAction[]) => {
    for (const a of actions) {
      if (a.kind === 'create') {
        trials.set(a.requestId, { hparams: a.hparams, trained: 0, queue: [], open: true });
        feed({ kind: 'trialCreated', requestId: a.requestId });
      } else if (a.kind === 'train') trials.get(a.requestId)?.queue.push(a.length);
      else if (a.kind === 'stop') {
        const t = trials.get(a.requestId);
        if (t?.open) {
          t.open = false;
          t.queue = [];
          // A trial whose allocation has just finished its work exits with its process (the allocation's end).
          const held = allocOf.get(a.requestId);
          if (held !== undefined && allocs.get(held)?.target === undefined) t.exitPending = true;
          else feed({ kind: 'trialExited', requestId: a.requestId, reason: 'completed' });
        }
      } else if (a.kind === 'shutdown') finished = true;
    }
  };
  const init = initSearcher({ config: o.config.searcher, hyperparameters: o.config.hyperparameters, seed: o.seed });
  state = init.state;

  // ---- cluster ----
  const instances = new Map<string, SimInstance>();
  const fixedAgents: Agent[] = [];
  if (!provisioned) {
    const total = (o.pool as { fixedSlots: number }).fixedSlots;
    for (let i = 0, left = total; left > 0; i++, left -= S) fixedAgents.push({ id: `fixed-${i}`, pool: 'sim', slots: Array.from({ length: Math.min(S, left) }, (_, d) => d), enabled: true });
  }
  const allocs = new Map<string, SimAlloc>();
  const allocOf = new Map<string, string>();
  let allocSeq = 0;
  let launchCount = 0;
  let launchFailures = { count: 0, lastAt: 0 };
  let failures = 0;
  const terminations: Record<string, number> = {};
  let now = 0;
  let instanceSeconds = 0;
  let slotSeconds = 0;
  let busySlotSeconds = 0;
  let peak = 0;
  let lastT = 0;
  const timeline: TimelinePoint[] = [];
  let totalUnitsGuess = 0;

  const liveInstances = () => [...instances.values()].filter((i) => i.state !== 'terminated');
  const registered = () => liveInstances().filter((i) => !i.leaked && (i.state === 'running' || i.state === 'idle'));
  const agents = (): Agent[] => [...fixedAgents, ...registered().map((i) => ({ id: i.id, pool: 'sim', slots: Array.from({ length: S }, (_, d) => d), enabled: true }))];
  const busySlots = () => [...allocs.values()].reduce((n, a) => n + (a.placement ? a.slots : 0), 0);
  const totalSlots = () => agents().reduce((n, a) => n + a.slots.length, 0);

  const account = (t: number) => {
    const dt = t - lastT;
    if (dt > 0) {
      instanceSeconds += dt * liveInstances().filter((i) => !i.leaked || i.state !== 'terminated').length;
      slotSeconds += dt * totalSlots();
      busySlotSeconds += dt * busySlots();
    }
    lastT = t;
  };
  const sample = () => {
    const n = liveInstances().length;
    peak = Math.max(peak, n);
    const point = { t: now, instances: n, slots: totalSlots(), busySlots: busySlots(), pendingGangs: [...allocs.values()].filter((a) => !a.placement).length, progress: unitsTrained };
    const last = timeline[timeline.length - 1];
    if (last && last.t === now) timeline[timeline.length - 1] = point;
    else if (!last || last.instances !== point.instances || last.busySlots !== point.busySlots || last.pendingGangs !== point.pendingGangs || last.slots !== point.slots || now - last.t > 60) timeline.push(point);
  };

  const requestAllocations = () => {
    for (const [rid, t] of trials) {
      if (!t.open || !t.queue.length || allocOf.has(rid)) continue;
      const id = `a${allocSeq++}`;
      allocs.set(id, { id, requestId: rid, slots: slotsPerTrial, order: allocSeq, requestedAt: now });
      allocOf.set(rid, id);
    }
  };
  const startWork = (a: SimAlloc, first: boolean) => {
    const t = trials.get(a.requestId)!;
    const to = t.queue.shift()!;
    a.target = to;
    totalUnitsGuess = Math.max(totalUnitsGuess, to);
    const from = t.trained;
    const before = first ? Math.max(0, a.requestedAt + oh.gapSeconds - now) + oh.startupSeconds : 0;
    const training = Math.max(0, to - from) * o.secondsPerUnit(t.hparams);
    // Periodic validations and checkpoints on the way, then one of each at the end of the operation.
    const checks = (periodicBetween(from, to, oh.validationEvery) + 1) * oh.validationSeconds + (periodicBetween(from, to, oh.checkpointEvery) + 1) * oh.checkpointSeconds;
    push({ t: now + before + training + checks, kind: 'done', alloc: a.id });
  };
  const schedulePass = () => {
    requestAllocations();
    const list: Allocation[] = [...allocs.values()].map((a) => ({
      id: a.id,
      groupId: 'exp',
      pool: 'sim',
      slots: a.slots,
      order: a.order,
      state: a.placement ? 'running' : 'pending',
      ...(a.placement ? { placement: a.placement } : {}),
    }));
    const r = schedule({ agents: agents(), allocations: list, groups: [{ id: 'exp', weight: 1, ...(maxSlots ? { maxSlots } : {}) }], options: { policy: 'priority', fit: 'best', preemption: false } });
    for (const as of r.assign) {
      const a = allocs.get(as.allocationId)!;
      a.placement = as.placement;
      startWork(a, true);
    }
  };
  const endAlloc = (a: SimAlloc) => {
    allocs.delete(a.id);
    allocOf.delete(a.requestId);
    const tr = trials.get(a.requestId);
    if (tr?.exitPending) {
      tr.exitPending = false;
      feed({ kind: 'trialExited', requestId: a.requestId, reason: 'completed' });
    }
    for (const p of a.placement ?? []) {
      const i = instances.get(p.agentId);
      if (i && i.state === 'running' && ![...allocs.values()].some((x) => x.placement?.some((q) => q.agentId === i.id))) {
        i.state = 'idle';
        i.idleSince = now;
      }
    }
  };

  const terminateInstance = (i: SimInstance, reason: string) => {
    const holding = [...allocs.values()].filter((a) => a.placement?.some((p) => p.agentId === i.id));
    if (holding.length && reason !== 'interrupted') o.onViolation?.(`terminated ${i.id} (${reason}) while it held ${holding.map((a) => a.id).join(', ')}`);
    for (const a of holding) {
      // Lost with its machine: the work goes back to the trial, which restarts from its last validation.
      const t = trials.get(a.requestId);
      if (t && a.target !== undefined) t.queue.unshift(a.target);
      allocs.delete(a.id);
      allocOf.delete(a.requestId);
      if (t?.exitPending) {
        t.exitPending = false;
        feed({ kind: 'trialExited', requestId: a.requestId, reason: 'completed' });
      }
    }
    i.state = 'terminated';
    terminations[reason] = (terminations[reason] ?? 0) + 1;
  };

  const provisionPass = () => {
    if (!provisioned) return;
    const { provider, cloud } = provisioned;
    const listOk = !cloud.listFails?.(now);
    // Leaks are terminated on a good list (the reconciler's rule), before deciding.
    if (listOk) for (const i of liveInstances()) if (i.leaked) terminateInstance(i, 'unknown');
    const allocations: AllocationView[] = [...allocs.values()].map((a) => {
      const slotsOn: Record<string, number> = {};
      for (const p of a.placement ?? []) slotsOn[p.agentId] = p.devices.length;
      return { id: a.id, groupId: 'exp', pool: 'sim', slots: a.slots, pending: !a.placement, agents: Object.keys(slotsOn), slotsOn, ...(maxSlots ? { maxSlots } : {}) };
    });
    const snap = provisionerSnapshot({
      pool: 'sim',
      listOk,
      rows: liveInstances().filter((i) => !i.leaked).map((i) => ({ id: i.id, state: i.state, createdAt: i.createdAt * 1000, idleSince: i.idleSince === null ? null : i.idleSince * 1000 })),
      agents: registered().map((i) => ({ id: i.id, pool: 'sim', slots: S })),
      allocations,
      disconnectedSince: new Map(),
      launchFailures,
      slotsPerInstance: S,
    });
    const d = decide(snap, provider, now * 1000);
    o.onDecision?.(snap, d, now * 1000);
    for (const t of d.terminate) {
      const i = instances.get(t.id)!;
      if (t.reason === 'start-timeout') {
        failures++;
        launchFailures = { count: launchFailures.count + 1, lastAt: now * 1000 };
      }
      terminateInstance(i, t.reason);
    }
    for (let k = 0; k < d.launch; k++) {
      const n = launchCount++;
      if (cloud.capacityError?.(now, n)) {
        failures++;
        launchFailures = { count: launchFailures.count + 1, lastAt: now * 1000 };
        terminations['launch-error'] = (terminations['launch-error'] ?? 0) + 1;
        break;
      }
      const inst: SimInstance = { id: `i${n}`, n, state: 'launching', createdAt: now, idleSince: null, registers: !cloud.neverRegisters?.(n) };
      instances.set(inst.id, inst);
      if (inst.registers) push({ t: now + cloud.bootSeconds, kind: 'register', inst: inst.id });
    }
  };

  // Leaked instances of a previous master exist from the start.
  if (provisioned) {
    for (let k = 0; k < (provisioned.cloud.leaked ?? 0); k++) instances.set(`leak${k}`, { id: `leak${k}`, n: -1, state: 'running', createdAt: 0, idleSince: 0, registers: false, leaked: true });
    push({ t: 0, kind: 'tick' });
  }
  act(init.actions);
  schedulePass();
  provisionPass();
  sample();

  const idleOnce = () => !finished && (allocs.size > 0 || [...trials.values()].some((t) => t.open && t.queue.length));
  while (events.length && now <= maxSeconds) {
    const e = events.shift()!;
    account(e.t);
    now = e.t;
    if (e.kind === 'tick') {
      provisionPass();
      // Keep ticking while anything can still change (work left, or instances to scale down).
      if (idleOnce() || liveInstances().length > (provisioned?.provider.min_instances ?? 0)) push({ t: now + provisioned!.provider.reconcile_interval, kind: 'tick' });
    } else if (e.kind === 'register') {
      const i = instances.get(e.inst);
      if (!i || i.state === 'terminated') continue;
      i.state = 'idle';
      i.registeredAt = now;
      i.idleSince = now;
      launchFailures = { count: 0, lastAt: 0 };
      const after = provisioned?.cloud.interruptAfter?.(i.n);
      if (after !== undefined) push({ t: now + after, kind: 'interrupt', inst: i.id });
    } else if (e.kind === 'interrupt') {
      const i = instances.get(e.inst);
      if (i && i.state !== 'terminated') terminateInstance(i, 'interrupted');
    } else if (e.kind === 'exit') {
      const a = allocs.get(e.alloc);
      if (a && a.target === undefined) endAlloc(a);
    } else {
      const a = allocs.get(e.alloc);
      if (!a || a.target === undefined) continue;
      const t = trials.get(a.requestId)!;
      unitsTrained += Math.max(0, a.target - t.trained);
      t.trained = Math.max(t.trained, a.target);
      const target = a.target;
      a.target = undefined;
      if (t.open) feed({ kind: 'validationCompleted', requestId: a.requestId, length: target, metric: objective(t.hparams, target, a.requestId) });
      if (t.open && t.queue.length && !finished) {
        const i = a.placement?.[0] ? instances.get(a.placement[0].agentId) : undefined;
        if (i) i.state = 'running';
        startWork(a, false);
      } else if (oh.exitSeconds > 0) push({ t: now + oh.exitSeconds, kind: 'exit', alloc: a.id });
      else endAlloc(a);
    }
    if (!finished) schedulePass();
    for (const i of registered()) {
      const holds = [...allocs.values()].some((a) => a.placement?.some((p) => p.agentId === i.id));
      if (holds && i.state === 'idle') {
        i.state = 'running';
        i.idleSince = null;
      } else if (!holds && i.state === 'running') {
        i.state = 'idle';
        i.idleSince = now;
      }
    }
    if (e.kind !== 'tick' && provisioned) provisionPass();
    sample();
    if ((finished || !idleOnce()) && allocs.size === 0 && !provisioned) break;
  }
  // The experiment's wall clock ends with its last allocation; instances then idle out (their cost is counted).
  const endOfWork = timeline.reduce((t, p) => (p.busySlots > 0 || p.pendingGangs > 0 ? Math.max(t, p.t) : t), 0);
  const lastWork = Math.max(endOfWork, ...[...timeline].reverse().filter((p) => p.busySlots === 0 && p.pendingGangs === 0 && p.t >= endOfWork).slice(-1).map((p) => p.t));
  const total = unitsTrained || 1;
  for (const p of timeline) p.progress = Math.min(1, p.progress / total);
  const thinned = thin(timeline, o.maxTimelinePoints ?? 500);
  const busy = busySlotSeconds;
  const concurrency = Math.min(
    (o.config.searcher.max_concurrent_trials || Infinity) * slotsPerTrial,
    maxSlots ?? Infinity,
    provisioned ? provisioned.provider.max_instances * S : Infinity,
  );
  const oracle = busy / S + (provisioned ? provisioned.cloud.bootSeconds * Math.ceil(Math.min(concurrency, peak * S) / S) : 0);
  return {
    wallClockSeconds: Math.min(lastWork, now),
    finished,
    trials: trials.size,
    unitsTrained,
    slotSeconds,
    busySlotSeconds: busy,
    instanceSeconds: provisioned ? instanceSeconds : 0,
    peakInstances: provisioned ? peak : fixedAgents.length,
    slotUtilization: slotSeconds > 0 ? busy / slotSeconds : 0,
    launches: launchCount,
    launchFailures: failures,
    terminations,
    timeline: thinned,
    oracleInstanceSeconds: oracle,
  };
}

function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const step = points.length / max;
  const out: T[] = [];
  for (let i = 0; i < max - 1; i++) out.push(points[Math.floor(i * step)]!);
  out.push(points[points.length - 1]!);
  return out;
}
