// The Kubernetes resource manager: trials of its pools run as Indexed batch/v1 Jobs (jobSpec.ts), one per
// allocation. The master, not kube-scheduler, decides when a gang starts: the same pure scheduler as the agent
// path admits an allocation only when the pool's free capacity (Nodes' allocatable slots minus what bound pods
// use) fits all its pods, so two half-started gangs never hold each other's GPUs; preemption is the agent path's
// (the harness checkpoints and exits 0, the pods succeed, then the waiting gang is admitted).
//
// State comes from one informer (list + watch, re-listed on 410 Gone or a closed watch, restarted with backoff on
// errors) per namespace over Jobs, Pods and Events, one over Nodes, each feeding a cache (resyncedCache.ts) that a
// periodic resync re-lists and compares, so a transition the watch silently missed is recovered too.
// Pod states are mapped to rank observations (podState.ts) and fed to the pure lifecycle functions; creates,
// patches and deletes go through a small retrying queue so that a pass never waits on the API server.
//
// Credentials: an allocation's task token lives in its own Secret (created before its Job, then owned by it so
// Kubernetes deletes it with the Job; the master deletes it with the Job too); the pods read it by secretKeyRef.
// Each pod is labelled `hone.ai/rank` (its first rank) by a patch as soon as the watch sees it.
//
// Restarts: once the informers have listed, Jobs of live allocations are re-attached, Jobs without one are
// deleted (with their Secrets), Secrets of no live allocation are deleted, and placed allocations whose Job is
// gone end (a lost allocation: retried without counting a restart).
import { Writable } from 'node:stream';
import type { AgentInfo, ExperimentConfig, JobInfo, ResourcePoolInfo, SlotInfo } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { BatchV1Api, CoreV1Api, KubeConfig, Log, makeInformer, PatchStrategy, setHeaderOptions, type Informer, type CoreV1Event, type KubernetesObject, type V1Job, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { Database, Queryable } from '../../db';
import * as allocationsDb from '../../db/allocations';
import type { LiveAllocation } from '../../db/allocations';
import { getExperimentConfig } from '../../db/experiments';
import type { EventBus } from '../../events';
import type { ExperimentController } from '../../experiments/controller';
import { ingestLogs, levelOf } from '../../experiments/taskLogs';
import { IncrementalScheduler, queueOrder, type Agent, type FitCheck, type ScheduleOptions } from '../../scheduler';
import {
  allocationEnded,
  decideLifecycle,
  initialObservations,
  rankExited,
  RANK_FAILURE_GRACE_MS,
  rankRunning,
  type AllocationOutcome,
  type Decision,
  type LifecycleAction,
  type LifecycleOptions,
  type Observations,
} from '../lifecycle';
import type { ResourceManager } from '../resourceManager';
import { LiveAllocations } from '../liveAllocations';
import { buildSnapshot, SnapshotBuilder } from '../snapshot';
import { podShape, type KubernetesPoolConfig } from './config';
import { buildJob, buildTaskSecret, CONTAINER, secretOwnerPatch } from './jobSpec';
import { labelValue, LABELS, MANAGED_BY, poolSelector, rankLabelPatch, secretName } from './naming';
import { ResyncedCache } from './resyncedCache';
import { podAllocation, podIndex, podRanks, podSlots, viewPod } from './podState';
import { RequestQueue, statusOf } from './requestQueue';
import { PassCoalescer } from '../passCoalescer';

export interface KubernetesResourceManagerOptions {
  masterUrl: () => string;
  /** How long a node may be gone before the allocations placed on it are lost. */
  agentGraceMs: number;
  preemptionTimeoutMs: number;
  scheduling: ScheduleOptions;
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
}

/** Patches as JSON merge patches (RFC 7386), which every Kubernetes object accepts. */
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** One pool's view of its cluster: its clients, informers and what they have seen. */
interface PoolWatch {
  cfg: KubernetesPoolConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  logs: Log;
  jobs: ResyncedCache<V1Job>;
  pods: ResyncedCache<V1Pod>;
  nodes: ResyncedCache<V1Node>;
  events: ResyncedCache<CoreV1Event>;
  informers: Array<[string, Informer<any>, ResyncedCache<any>]>;
  resyncTimer: NodeJS.Timeout | null;
  resyncing: boolean;
  /** Informers that have listed at least once. */
  synced: Set<string>;
  reconciled: boolean;
}

/** What has been reported to the lifecycle about one rank of an allocation. */
type RankReport = 'running' | 'exited';

export class KubernetesResourceManager implements ResourceManager {
  private readonly watches = new Map<string, PoolWatch>();
  /** One scheduler per pool, keeping its state between passes (see scheduler/incremental.ts). */
  private readonly schedulers = new Map<string, IncrementalScheduler>();
  /** Per pool: the snapshot builder beside its scheduler. */
  private readonly snapshots = new Map<string, SnapshotBuilder>();
  /** The live allocation rows, kept between passes (each pass reads back only what was written since). */
  private readonly live: LiveAllocations;
  private timer: NodeJS.Timeout | null = null;
  private readonly passes = new PassCoalescer(
    () => this.pass(),
    (e) => this.opts.log.warn({ err: e.stack }, 'kubernetes scheduling pass failed'),
  );
  private stopped = false;
  private obs: Observations = initialObservations(Date.now());
  private readonly lifecycle: LifecycleOptions;
  private readonly queue: RequestQueue;
  private readonly launchConfig = new Map<number, Pick<ExperimentConfig, 'name' | 'entrypoint' | 'environment'>>();
  /** Allocation id → rank → what the lifecycle was told. */
  private readonly reported = new Map<string, Map<number, RankReport>>();
  /** Allocations whose Job the cache has held: a Job missing from it then means it is gone. */
  private readonly jobKnown = new Set<string>();
  /** Allocation id → its Job (pool and name), from the launch or the re-attach: what to delete when it ends. */
  private readonly jobNames = new Map<string, { pool: string; name: string }>();
  /** Pods whose `hone.ai/rank` patch has been queued (namespace/name). */
  private readonly rankPatched = new Set<string>();
  /** Allocations being failed for a reason of Kubernetes' (an image that cannot be pulled): the outcome's reason. */
  private readonly failReason = new Map<string, string>();
  /** Pods whose log is followed. */
  private readonly following = new Map<string, AbortController>();
  /** Events already copied into a trial's log (uid/count). */
  private readonly eventsSeen = new Set<string>();
  /** When this master started following logs: re-attached pods' logs are read from here (no duplicates). */
  private readonly startedAt = new Date();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly experiments: ExperimentController,
    pools: KubernetesPoolConfig[],
    private readonly opts: KubernetesResourceManagerOptions,
  ) {
    this.lifecycle = { agentGraceMs: opts.agentGraceMs, preemptionTimeoutMs: opts.preemptionTimeoutMs, helloSettleMs: 0, rankFailureGraceMs: RANK_FAILURE_GRACE_MS };
    this.queue = new RequestQueue({ concurrency: 4, maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 5000, log: (o, m) => opts.log.warn(o, m) });
    for (const cfg of pools) this.watches.set(cfg.pool, this.makeWatch(cfg));
    this.live = new LiveAllocations(db);
  }

  owns(pool: string): boolean {
    return this.watches.has(pool);
  }

  private makeWatch(cfg: KubernetesPoolConfig): PoolWatch {
    const kc = new KubeConfig();
    if (cfg.kubeconfig) kc.loadFromFile(cfg.kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST && !process.env.KUBECONFIG) kc.loadFromCluster();
    else kc.loadFromDefault();
    const batch = kc.makeApiClient(BatchV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const ns = cfg.namespace;
    const selector = poolSelector(cfg.pool);
    const listJobs = () => batch.listNamespacedJob({ namespace: ns, labelSelector: selector });
    // Every pod of the namespace: other pods' GPUs are not free either.
    const listPods = () => core.listNamespacedPod({ namespace: ns });
    const listNodes = () => core.listNode();
    const listEvents = () => core.listNamespacedEvent({ namespace: ns });
    const jobs = new ResyncedCache<V1Job>(listJobs);
    const pods = new ResyncedCache<V1Pod>(listPods);
    const nodes = new ResyncedCache<V1Node>(listNodes);
    const events = new ResyncedCache<CoreV1Event>(listEvents);
    const informers: PoolWatch['informers'] = [
      ['jobs', makeInformer<V1Job>(kc, `/apis/batch/v1/namespaces/${ns}/jobs`, listJobs, selector), jobs],
      ['pods', makeInformer<V1Pod>(kc, `/api/v1/namespaces/${ns}/pods`, listPods), pods],
      ['nodes', makeInformer<V1Node>(kc, '/api/v1/nodes', listNodes), nodes],
      ['events', makeInformer<CoreV1Event>(kc, `/api/v1/namespaces/${ns}/events`, listEvents), events],
    ];
    const w: PoolWatch = { cfg, batch, core, logs: new Log(kc), jobs, pods, nodes, events, informers, resyncTimer: null, resyncing: false, synced: new Set(), reconciled: false };
    for (const [name, inf, cache] of informers) {
      let failures = 0;
      inf.on('connect', () => undefined);
      inf.on('add', (o: KubernetesObject) => {
        failures = 0;
        cache.apply('add', o);
      });
      inf.on('update', (o: KubernetesObject) => cache.apply('update', o));
      inf.on('delete', (o: KubernetesObject) => cache.apply('delete', o));
      inf.on('error', (err: unknown) => {
        // The informer stops on an error other than 410 Gone; list and watch again with backoff.
        if (this.stopped) return;
        const delay = Math.min(200 * 2 ** failures++, 5000);
        this.opts.log.warn({ pool: cfg.pool, informer: name, err: String((err as Error)?.message ?? err).split('\n')[0], retryInMs: delay }, 'kubernetes watch failed; listing again');
        setTimeout(() => {
          if (!this.stopped) this.startInformer(w, name, inf);
        }, delay).unref();
      });
    }
    pods.on('add', (p) => this.onPod(w, p, false));
    pods.on('update', (p) => this.onPod(w, p, false));
    pods.on('delete', (p) => this.onPod(w, p, true));
    jobs.on('delete', () => this.requestPass());
    jobs.on('add', (j) => {
      const id = j.metadata?.labels?.[LABELS.allocation];
      if (id) this.jobKnown.add(id);
    });
    nodes.on('add', (n) => this.onNode(n));
    nodes.on('update', (n) => this.onNode(n));
    nodes.on('delete', (n) => this.onNode(n));
    events.on('add', (e) => void this.onEvent(w, e));
    events.on('update', (e) => void this.onEvent(w, e));
    return w;
  }

  private startInformer(w: PoolWatch, name: string, inf: Informer<any>): void {
    inf.start().then(
      () => {
        if (this.stopped) return;
        w.synced.add(name);
        this.requestPass();
      },
      () => undefined, // the error callback retries
    );
  }

  start(): void {
    for (const w of this.watches.values()) {
      for (const [name, inf] of w.informers) this.startInformer(w, name, inf);
      w.resyncTimer = setInterval(() => void this.resync(w), w.cfg.resyncSeconds * 1000);
    }
    this.timer = setInterval(() => this.requestPass(), 1000);
    this.requestPass();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watches.values()) if (w.resyncTimer) clearInterval(w.resyncTimer);
    await this.passes.stop();
    for (const c of this.following.values()) c.abort();
    this.following.clear();
    for (const w of this.watches.values()) for (const [, inf] of w.informers) await inf.stop().catch(() => undefined);
    this.queue.stop();
    this.live.close();
  }

  requestPass(): void {
    this.passes.request();
  }

  releaseExperiment(tx: Queryable, experimentId: number, how: 'preempt' | 'kill', reason: string): Promise<void> {
    return allocationsDb.releaseExperimentAllocations(tx, experimentId, how, reason);
  }

  // ---- cluster state ----

  private ready(w: PoolWatch): boolean {
    return w.synced.has('jobs') && w.synced.has('pods') && w.synced.has('nodes');
  }

  /** Nodes of the pool (matching its node selector, Ready, schedulable) with their allocatable slots. */
  private poolNodes(w: PoolWatch): Array<{ name: string; slots: number }> {
    const out: Array<{ name: string; slots: number }> = [];
    for (const n of w.nodes.list()) {
      const labels = n.metadata?.labels ?? {};
      if (!Object.entries(w.cfg.nodeSelector).every(([k, v]) => labels[k] === v)) continue;
      if (n.spec?.unschedulable) continue;
      if (!(n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      const alloc = (n.status?.allocatable ?? {}) as Record<string, string>;
      const slots = Math.floor(Number(alloc[w.cfg.slotType === 'gpu' ? 'nvidia.com/gpu' : 'cpu'] ?? 0) || 0);
      out.push({ name: n.metadata!.name!, slots });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The scheduler's agents. A pod's slots sit on one node, so each node is cut into pod-sized agents
   * (`<node>#<i>`, `max_slots_per_pod` slots each): a gang then takes whole pods, as many as it has, wherever
   * they fit. Slots of bound pods that are not a live allocation of ours are not free.
   */
  private schedulerAgents(w: PoolWatch, live: LiveAllocation[]): Agent[] {
    const ours = new Set(live.filter((a) => a.placement).map((a) => a.id));
    const used = new Map<string, number>();
    for (const p of w.pods.list()) {
      const node = p.spec?.nodeName;
      if (!node || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      const alloc = podAllocation(p);
      if (alloc && ours.has(alloc)) continue;
      used.set(node, (used.get(node) ?? 0) + podSlots(p, w.cfg.slotType));
    }
    const k = w.cfg.maxSlotsPerPod;
    const agents: Agent[] = [];
    for (const n of this.poolNodes(w)) {
      const free = Math.max(0, n.slots - Math.ceil(used.get(n.name) ?? 0));
      for (let i = 0; i < Math.floor(free / k); i++) agents.push({ id: `${n.name}#${i}`, pool: w.cfg.pool, slots: Array.from({ length: k }, (_, d) => i * k + d), enabled: true });
    }
    return agents;
  }

  /** The node of a scheduler agent id (`<node>#<i>`). */
  private static nodeOf(agentId: string): string {
    const i = agentId.lastIndexOf('#');
    return i < 0 ? agentId : agentId.slice(0, i);
  }

  /** The lifecycle sees each pod-sized agent as connected while its node is there and Ready. */
  private syncNodeObservations(live: LiveAllocation[]): void {
    const ready = new Set<string>();
    for (const w of this.watches.values()) for (const n of this.poolNodes(w)) ready.add(n.name);
    const agents = { ...this.obs.agents };
    let changed = false;
    for (const a of live) {
      for (const p of a.placement ?? []) {
        const up = ready.has(KubernetesResourceManager.nodeOf(p.agentId));
        const was = agents[p.agentId];
        if (was && was.connected === up) continue;
        if (!was && !up) continue; // never seen: gone since this master started (the lifecycle's default)
        agents[p.agentId] = { connected: up, since: Date.now() };
        changed = true;
      }
    }
    if (changed) this.obs = { ...this.obs, agents };
  }

  private onNode(n: V1Node): void {
    if (n.metadata?.name) this.requestPass();
  }

  // ---- the pass ----

  private async liveOfMine(): Promise<LiveAllocation[]> {
    return (await allocationsDb.listLiveAllocations(this.db)).filter((a) => this.watches.has(a.pool));
  }

  /** `liveOfMine` from the rows kept between passes (the pass reads them every second). */
  private async keptLiveOfMine(): Promise<LiveAllocation[]> {
    return (await this.live.read()).filter((a) => this.watches.has(a.pool));
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    for (const w of this.watches.values()) if (this.ready(w) && !w.reconciled) await this.reconcile(w);
    let live = await this.keptLiveOfMine();
    for (const a of live) this.observeAllocation(a);
    this.syncNodeObservations(live);
    await this.apply(decideLifecycle(live, this.obs, this.lifecycle, Date.now()), live);
    live = await this.keptLiveOfMine();
    for (const w of this.watches.values()) {
      if (!w.reconciled) continue;
      const mine = live.filter((a) => a.pool === w.cfg.pool);
      let scheduler = this.schedulers.get(w.cfg.pool);
      if (!scheduler) this.schedulers.set(w.cfg.pool, (scheduler = new IncrementalScheduler({ reasons: false })));
      let builder = this.snapshots.get(w.cfg.pool);
      if (!builder) this.snapshots.set(w.cfg.pool, (builder = new SnapshotBuilder()));
      const plan = scheduler.schedule(builder.build(this.schedulerAgents(w, mine), mine, this.opts.scheduling));
      const byId = new Map(mine.map((a) => [a.id, a]));
      for (const as of plan.assign) {
        const a = byId.get(as.allocationId);
        const shape = a ? podShape(a.slots, w.cfg.maxSlotsPerPod) : null;
        if (!a || !shape || 'error' in shape) continue;
        if (!(await allocationsDb.assignAllocation(this.db, a.id, as.placement))) continue;
        await this.launch(w, { ...a, state: 'ASSIGNED', placement: as.placement });
      }
      if (plan.preempt.length) {
        await allocationsDb.requestPreemption(this.db, plan.preempt);
        for (const id of plan.preempt) this.bus.publish({ type: 'allocation', allocationId: id });
      }
      if (plan.assign.length || plan.preempt.length) this.bus.publish({ type: 'cluster' });
    }
  }

  /**
   * After a (re)start, once the caches hold the cluster: re-attach the Jobs of live allocations, delete the
   * others, and end placed allocations whose Job is gone (an ASSIGNED one whose Job was never created is
   * launched again).
   */
  private async reconcile(w: PoolWatch): Promise<void> {
    const live = (await this.liveOfMine()).filter((a) => a.pool === w.cfg.pool);
    const byId = new Map(live.map((a) => [a.id, a]));
    const withJob = new Set<string>();
    for (const j of w.jobs.list()) {
      const id = j.metadata?.labels?.[LABELS.allocation];
      const a = id ? byId.get(id) : undefined;
      if (a && a.state !== 'PENDING') {
        withJob.add(a.id);
        this.jobKnown.add(a.id);
        this.jobNames.set(a.id, { pool: w.cfg.pool, name: j.metadata!.name! });
        this.opts.log.info({ allocation: a.id, job: j.metadata?.name }, 're-attached a running Job');
      } else {
        this.opts.log.warn({ job: j.metadata?.name, allocation: id }, 'deleting a Job with no live allocation');
        this.deleteJob(w, j.metadata!.name!, id);
      }
    }
    this.sweepSecrets(w);
    for (const a of live) {
      if (a.state === 'PENDING' || withJob.has(a.id)) continue;
      if (a.state === 'ASSIGNED' && !a.killRequested) {
        await this.launch(w, a);
        continue;
      }
      this.opts.log.warn({ allocation: a.id }, 'the Job of a placed allocation is gone; ending it');
      await this.finish(a.id, { exitCode: null, reason: a.killRequested ? 'killed' : 'lost (its Kubernetes Job is gone)', failed: !a.killRequested, countsAsRestart: false });
    }
    w.reconciled = true;
  }

  /** Feeds what the pods of `a` say into the lifecycle (only what changed since the last report). */
  private observeAllocation(a: LiveAllocation): void {
    const w = this.watches.get(a.pool);
    if (!w || !w.reconciled || !a.placement) return;
    const shape = podShape(a.slots, w.cfg.maxSlotsPerPod);
    if ('error' in shape) return;
    const pods = w.pods.list().filter((p) => podAllocation(p) === a.id);
    for (const p of pods) this.observePod(w, p, false, a);
    // The Job vanished (deleted, or its TTL ran out while we were away): ranks not seen to exit were killed.
    const jobThere = w.jobs.list().some((j) => j.metadata?.labels?.[LABELS.allocation] === labelValue(a.id));
    if (!jobThere && this.jobKnown.has(a.id)) {
      for (let r = 0; r < a.slots; r++) this.report(a, r, null);
    }
  }

  private onPod(w: PoolWatch, p: V1Pod, deleted: boolean): void {
    if (!deleted) this.labelRank(w, p);
    if (!w.reconciled || !podAllocation(p)) {
      this.requestPass();
      return;
    }
    void this.observePodOf(w, p, deleted).catch((e) => this.opts.log.warn({ err: (e as Error).message }, 'pod update failed'));
  }

  private async observePodOf(w: PoolWatch, p: V1Pod, deleted: boolean): Promise<void> {
    const [a] = await allocationsDb.getLiveAllocations(this.db, [podAllocation(p)!]);
    if (a) this.observePod(w, p, deleted, a);
    this.requestPass();
  }

  private observePod(w: PoolWatch, p: V1Pod, deleted: boolean, a: LiveAllocation): void {
    const index = podIndex(p);
    if (index === null) return;
    const shape = podShape(a.slots, w.cfg.maxSlotsPerPod);
    if ('error' in shape) return;
    const view = viewPod(p, deleted);
    const name = p.metadata!.name!;
    if (view.kind === 'running' || view.kind === 'exited') this.followLogs(w, p, a, shape.slotsPerPod);
    if (view.kind === 'running') for (const r of podRanks(index, shape.slotsPerPod)) this.reportRunning(a, r);
    if (view.kind === 'exited') {
      if (view.reason && view.exitCode !== 0 && !this.failReason.has(a.id) && !a.killRequested && !a.preemptRequested) {
        this.failReason.set(a.id, `pod ${name} ${view.reason}${view.exitCode !== null ? ` (exit code ${view.exitCode})` : ''}`);
        void this.trialLog(a, 'WARN', `kubernetes: pod ${name}: ${view.reason}`);
      }
      for (const r of podRanks(index, shape.slotsPerPod)) this.report(a, r, view.exitCode);
    }
    if (view.kind === 'stuck' && !this.failReason.has(a.id)) {
      // It will not start by itself: fail the allocation with Kubernetes' reason, and free what it holds.
      this.failReason.set(a.id, `pod ${name}: ${view.reason}`);
      this.opts.log.warn({ allocation: a.id, pod: name, reason: view.reason }, 'pod cannot start; failing its allocation');
      void this.trialLog(a, 'ERROR', `kubernetes: pod ${name} cannot start: ${view.reason}`);
      this.deleteJob(w, p.metadata?.labels?.['job-name'] ?? p.metadata?.ownerReferences?.[0]?.name ?? '', a.id);
    }
  }

  /**
   * Labels a pod of ours with `hone.ai/rank` (its first rank: completion index × slots per pod), which one Job
   * template cannot do. Once per pod; a pod that is gone by then is no error.
   */
  private labelRank(w: PoolWatch, p: V1Pod): void {
    const labels = p.metadata?.labels;
    const name = p.metadata?.name;
    if (!name || labels?.[LABELS.managed] !== MANAGED_BY || labels?.[LABELS.pool] !== labelValue(w.cfg.pool) || p.metadata?.deletionTimestamp) return;
    const perPod = Number(p.spec?.containers?.[0]?.env?.find((e) => e.name === 'HONE_SLOTS_PER_POD')?.value) || w.cfg.maxSlotsPerPod;
    const body = rankLabelPatch(labels, perPod);
    const key = `${w.cfg.namespace}/${name}`;
    if (!body || this.rankPatched.has(key)) return;
    this.rankPatched.add(key);
    if (this.rankPatched.size > 10_000) this.rankPatched.delete(this.rankPatched.values().next().value!);
    this.queue.push({
      key: `pod/${key}`,
      what: `label pod ${key} with its rank`,
      run: async () => {
        try {
          await w.core.patchNamespacedPod({ name, namespace: w.cfg.namespace, body }, MERGE_PATCH);
        } catch (e) {
          if (statusOf(e) !== 404) throw e;
        }
      },
    });
  }

  private reportRunning(a: LiveAllocation, rank: number): void {
    const seen = this.reported.get(a.id) ?? new Map<number, RankReport>();
    this.reported.set(a.id, seen);
    if (seen.has(rank)) return;
    seen.set(rank, 'running');
    const d = rankRunning(this.obs, a.id, rank);
    this.obs = d.obs;
    if (a.state === 'ASSIGNED') void this.apply(d, [a]);
  }

  private report(a: LiveAllocation, rank: number, exitCode: number | null): void {
    const seen = this.reported.get(a.id) ?? new Map<number, RankReport>();
    this.reported.set(a.id, seen);
    if (seen.get(rank) === 'exited') return;
    seen.set(rank, 'exited');
    void this.apply(rankExited(this.obs, a, rank, exitCode, this.lifecycle, Date.now()), [a]);
  }

  private async apply(d: Decision, live: LiveAllocation[]): Promise<void> {
    this.obs = d.obs;
    const byId = new Map(live.map((a) => [a.id, a]));
    for (const act of d.actions) await this.perform(act, byId.get(act.allocationId));
  }

  private async perform(act: LifecycleAction, a: LiveAllocation | undefined): Promise<void> {
    switch (act.kind) {
      case 'finish': {
        const why = this.failReason.get(act.allocationId);
        const outcome = why && act.outcome.failed ? { ...act.outcome, reason: why } : act.outcome;
        await this.finish(act.allocationId, outcome);
        return;
      }
      case 'signal': {
        // Kubernetes has one way to stop a pod: delete it (SIGTERM, then SIGKILL after the grace period).
        const w = a ? this.watches.get(a.pool) : undefined;
        if (w && a) this.deleteJobOf(w, a.id);
        return;
      }
      case 'requestKill':
        this.opts.log.warn({ allocation: act.allocationId }, 'preempted allocation did not exit in time; killing it');
        await allocationsDb.requestKill(this.db, act.allocationId);
        return;
      case 'notifyPreempt':
        this.bus.publish({ type: 'allocation', allocationId: act.allocationId });
        return;
      case 'markRunning':
        await allocationsDb.markAllocationRunning(this.db, act.allocationId);
        this.bus.publish({ type: 'cluster' });
        return;
      case 'relaunch': {
        const w = a ? this.watches.get(a.pool) : undefined;
        if (w && a) await this.launch(w, a);
        return;
      }
    }
  }

  private async finish(allocationId: string, outcome: AllocationOutcome): Promise<void> {
    this.obs = allocationEnded(this.obs, allocationId);
    this.reported.delete(allocationId);
    this.failReason.delete(allocationId);
    await this.experiments.allocationEnded(allocationId, outcome);
    this.bus.publish({ type: 'allocation', allocationId });
    // The outcome is recorded: the Job (and its finished pods) and its Secret can go.
    for (const w of this.watches.values()) this.deleteJobOf(w, allocationId);
    this.jobKnown.delete(allocationId);
    this.jobNames.delete(allocationId);
    this.requestPass();
  }

  /** Deletes the Job of an allocation (the one it was launched as, and any the cache holds) and its Secret. */
  private deleteJobOf(w: PoolWatch, allocationId: string): void {
    const names = new Set<string>();
    const launched = this.jobNames.get(allocationId);
    if (launched?.pool === w.cfg.pool) names.add(launched.name);
    for (const j of w.jobs.list()) if (j.metadata?.labels?.[LABELS.allocation] === labelValue(allocationId)) names.add(j.metadata!.name!);
    for (const n of names) this.deleteJob(w, n, allocationId);
  }

  /** Deletes a Job (its pods in the background) and, when its allocation is known, the allocation's Secret. */
  private deleteJob(w: PoolWatch, name: string, allocationId?: string): void {
    if (!name) return;
    const secret = allocationId ? secretName(allocationId) : null;
    this.queue.push({
      key: `job/${w.cfg.namespace}/${name}`,
      what: `delete Job ${w.cfg.namespace}/${name}${secret ? ` and Secret ${secret}` : ''}`,
      run: async () => {
        try {
          await w.batch.deleteNamespacedJob({ name, namespace: w.cfg.namespace, propagationPolicy: 'Background', gracePeriodSeconds: 30 });
        } catch (e) {
          if (statusOf(e) !== 404) throw e;
        }
        if (secret) await this.deleteSecretNow(w, secret);
      },
    });
  }

  private async deleteSecretNow(w: PoolWatch, name: string): Promise<void> {
    try {
      await w.core.deleteNamespacedSecret({ name, namespace: w.cfg.namespace });
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }

  /**
   * After a restart: deletes the Secrets of the pool whose allocation is not live (left by a master that died
   * between creating a Secret and its Job, or before deleting them). Lists first, then reads the live
   * allocations, so a Secret created meanwhile for a new allocation is never taken for an orphan.
   */
  private sweepSecrets(w: PoolWatch): void {
    this.queue.push({
      key: `secrets/${w.cfg.namespace}/${w.cfg.pool}`,
      what: `delete orphaned Secrets in ${w.cfg.namespace}`,
      run: async () => {
        const listed = await w.core.listNamespacedSecret({ namespace: w.cfg.namespace, labelSelector: poolSelector(w.cfg.pool) });
        const live = new Set((await allocationsDb.listLiveAllocations(this.db)).map((a) => labelValue(a.id)));
        for (const s of listed.items) {
          const id = s.metadata?.labels?.[LABELS.allocation];
          if (!id || live.has(id) || !s.metadata?.name) continue;
          this.opts.log.warn({ secret: s.metadata.name, allocation: id }, 'deleting a Secret with no live allocation');
          await this.deleteSecretNow(w, s.metadata.name);
        }
      },
    });
  }

  private async launchSettings(experimentId: number): Promise<Pick<ExperimentConfig, 'name' | 'entrypoint' | 'environment'>> {
    let s = this.launchConfig.get(experimentId);
    if (!s) {
      const c = await getExperimentConfig(this.db, experimentId);
      s = { name: c?.name ?? `experiment-${experimentId}`, entrypoint: c?.entrypoint ?? '', environment: c?.environment ?? { variables: {} } };
      if (this.launchConfig.size > 1000) this.launchConfig.clear();
      this.launchConfig.set(experimentId, s);
    }
    return s;
  }

  private async launch(w: PoolWatch, a: LiveAllocation): Promise<void> {
    const shape = podShape(a.slots, w.cfg.maxSlotsPerPod);
    if ('error' in shape) return;
    const s = await this.launchSettings(a.experimentId);
    const masterUrl = this.opts.masterUrl();
    const who = { allocationId: a.id, trialId: a.trialId, experimentId: a.experimentId, experimentName: s.name };
    const secret = buildTaskSecret(w.cfg, { ...who, token: a.token });
    const job = buildJob(w.cfg, {
      ...who,
      slots: a.slots,
      pods: shape.pods,
      slotsPerPod: shape.slotsPerPod,
      masterUrl,
      contextUrl: `${masterUrl}${API_PREFIX}/experiments/${a.experimentId}/context`,
      entrypoint: s.entrypoint,
      variables: s.environment.variables,
    });
    const name = job.metadata!.name!;
    const ns = w.cfg.namespace;
    this.jobNames.set(a.id, { pool: w.cfg.pool, name });
    // Secret first (no pod may start without its token), then the Job, then the Job becomes the Secret's owner.
    // Steps done stay done across retries of this request.
    let secretMade = false;
    let jobUid: string | undefined;
    this.queue.push({
      key: `job/${ns}/${name}`,
      what: `create Secret ${secret.metadata!.name} and Job ${ns}/${name}`,
      run: async () => {
        if (!secretMade) {
          try {
            await w.core.createNamespacedSecret({ namespace: ns, body: secret });
          } catch (e) {
            if (statusOf(e) !== 409) throw e; // already there: created before a retry or a restart
          }
          secretMade = true;
        }
        if (!jobUid) {
          try {
            jobUid = (await w.batch.createNamespacedJob({ namespace: ns, body: job })).metadata?.uid;
          } catch (e) {
            if (statusOf(e) !== 409) throw e; // already there: created before a retry or a restart
            jobUid = w.jobs.get(name, ns)?.metadata?.uid;
          }
          // Not known (a Job made before a restart, not cached yet): the master's own deletes still cover it.
          if (!jobUid) return;
        }
        try {
          await w.core.patchNamespacedSecret({ name: secret.metadata!.name!, namespace: ns, body: secretOwnerPatch({ name, uid: jobUid }) }, MERGE_PATCH);
        } catch (e) {
          if (statusOf(e) !== 404) throw e; // deleted meanwhile: the allocation ended
        }
      },
    });
    this.opts.log.info({ allocation: a.id, trial: a.trialId, job: name, pods: shape.pods, placement: a.placement }, 'allocation assigned');
  }

  // ---- logs and events ----

  private followLogs(w: PoolWatch, p: V1Pod, a: LiveAllocation, slotsPerPod: number): void {
    const name = p.metadata!.name!;
    if (this.following.has(name)) return;
    const controller = new AbortController();
    this.following.set(name, controller);
    const index = podIndex(p) ?? 0;
    let buf = '';
    let batch: Array<{ rank: number; line: string }> = [];
    let flushing: Promise<void> = Promise.resolve();
    const flush = () => {
      const lines = batch;
      batch = [];
      if (!lines.length) return;
      const ts = new Date().toISOString();
      flushing = flushing.then(() =>
        ingestLogs(
          this.db,
          this.bus,
          a.trialId,
          lines.map((l) => ({ allocationId: a.id, agentId: p.spec?.nodeName ?? name, rank: l.rank, stream: 'stdout', level: levelOf(l.line, 'stdout'), ts, line: l.line })),
        ).then(
          () => undefined,
          (e) => this.opts.log.warn({ err: (e as Error).message, pod: name }, 'could not store pod log lines'),
        ),
      );
    };
    const timer = setInterval(flush, 300);
    const take = (line: string) => {
      const m = /^\[rank (\d+)\] (.*)$/.exec(line);
      batch.push(m ? { rank: Number(m[1]), line: m[2]! } : { rank: index * slotsPerPod, line });
      if (batch.length >= 500) flush();
    };
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        buf += chunk.toString('utf8');
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) take(l);
        done();
      },
      final(done) {
        if (buf) take(buf);
        buf = '';
        done();
      },
    });
    const end = () => {
      clearInterval(timer);
      if (buf) take(buf);
      flush();
    };
    sink.on('finish', end);
    sink.on('close', end);
    // A pod that ran before this master started: read from the start of this master (the rest is stored).
    const since = p.status?.startTime && new Date(p.status.startTime) < this.startedAt ? { sinceTime: this.startedAt.toISOString() } : {};
    w.logs
      .log(w.cfg.namespace, name, CONTAINER, sink, { follow: true, ...since })
      .then((c) => controller.signal.addEventListener('abort', () => c.abort()))
      .catch((e) => {
        this.opts.log.warn({ pod: name, err: (e as Error).message?.split('\n')[0] }, 'could not follow pod log');
        this.following.delete(name);
        end();
      });
    if (this.following.size > 5000) {
      const first = this.following.keys().next().value!;
      this.following.get(first)?.abort();
      this.following.delete(first);
    }
  }

  private async onEvent(w: PoolWatch, e: CoreV1Event): Promise<void> {
    if (!w.reconciled || e.involvedObject?.kind !== 'Pod' || !e.involvedObject.name) return;
    const key = `${e.metadata?.uid ?? e.metadata?.name}/${e.count ?? 1}`;
    if (this.eventsSeen.has(key)) return;
    if (this.eventsSeen.size > 10_000) this.eventsSeen.clear();
    this.eventsSeen.add(key);
    const pod = w.pods.get(e.involvedObject.name, w.cfg.namespace);
    const id = pod ? podAllocation(pod) : null;
    if (!id) return;
    const [a] = await allocationsDb.getLiveAllocations(this.db, [id]);
    if (!a) return;
    await this.trialLog(a, e.type === 'Warning' ? 'WARN' : 'INFO', `kubernetes: ${e.reason ?? 'Event'} on pod ${e.involvedObject.name}: ${e.message ?? ''}`);
  }

  private async trialLog(a: LiveAllocation, level: string, line: string): Promise<void> {
    await ingestLogs(this.db, this.bus, a.trialId, [{ allocationId: a.id, agentId: 'kubernetes', rank: 0, stream: 'stderr', level, ts: new Date().toISOString(), line }]).catch(
      (e) => this.opts.log.warn({ err: (e as Error).message }, 'could not store a Kubernetes event in the trial log'),
    );
  }

  /**
   * The periodic resync: re-lists every cache of the pool and applies what differs from what the watches said
   * (through the same handlers), then re-derives every allocation's state. A failed list is retried next time.
   */
  private async resync(w: PoolWatch): Promise<void> {
    if (this.stopped || w.resyncing) return;
    w.resyncing = true;
    try {
      for (const [name, , cache] of w.informers) {
        if (!w.synced.has(name) || this.stopped) continue;
        try {
          const fixed = await cache.resync();
          if (fixed.added + fixed.updated + fixed.deleted) this.opts.log.warn({ pool: w.cfg.pool, informer: name, ...fixed }, 'kubernetes resync found changes the watch missed');
        } catch (e) {
          this.opts.log.warn({ pool: w.cfg.pool, informer: name, err: String((e as Error)?.message ?? e).split('\n')[0] }, 'kubernetes resync list failed');
        }
      }
    } finally {
      w.resyncing = false;
    }
    this.requestPass();
  }

  // ---- views ----

  async canEverFit(pool: string, slots: number): Promise<FitCheck> {
    const w = this.watches.get(pool);
    if (!w) return { fits: false, reason: `pool ${pool} is not a Kubernetes pool` };
    const shape = podShape(slots, w.cfg.maxSlotsPerPod);
    if ('error' in shape) return { fits: false, reason: shape.error };
    if (!w.synced.has('nodes')) return { fits: true };
    const per = Math.max(1, shape.slotsPerPod);
    const podsFit = this.poolNodes(w).reduce((n, x) => n + Math.floor(x.slots / per), 0);
    if (slots > 0 && podsFit < shape.pods) {
      return { fits: false, reason: `pool ${pool} has room for ${podsFit} pods of ${per} ${w.cfg.slotType === 'gpu' ? 'GPUs' : 'CPUs'}, the trial needs ${shape.pods}` };
    }
    return { fits: true };
  }

  async describeAgents(): Promise<AgentInfo[]> {
    const live = await this.liveOfMine();
    const out: AgentInfo[] = [];
    for (const w of this.watches.values()) {
      const used = new Map<string, LiveAllocation>();
      for (const a of live) for (const p of a.placement ?? []) for (const d of p.devices) used.set(`${KubernetesResourceManager.nodeOf(p.agentId)}/${d}`, a);
      for (const n of this.poolNodes(w)) {
        const slots: SlotInfo[] = Array.from({ length: n.slots }, (_, id) => {
          const al = used.get(`${n.name}/${id}`);
          return { agentId: n.name, id, type: w.cfg.slotType, brand: w.cfg.slotType === 'gpu' ? 'nvidia.com/gpu' : 'cpu', allocationId: al?.id ?? null, trialId: al?.trialId ?? null, experimentId: al?.experimentId ?? null };
        });
        out.push({ id: n.name, resourcePool: w.cfg.pool, hostname: n.name, state: 'CONNECTED', slots, lastSeen: new Date().toISOString(), version: 'kubernetes' });
      }
    }
    return out;
  }

  async describePools(): Promise<ResourcePoolInfo[]> {
    const live = await this.liveOfMine();
    return [...this.watches.values()].map((w) => {
      const nodes = this.poolNodes(w);
      const mine = live.filter((a) => a.pool === w.cfg.pool);
      return {
        name: w.cfg.pool,
        agents: nodes.length,
        slots: nodes.reduce((n, x) => n + x.slots, 0),
        slotsUsed: mine.filter((a) => a.state !== 'PENDING').reduce((n, a) => n + a.slots, 0),
        pendingAllocations: mine.filter((a) => a.state === 'PENDING').length,
        pendingSlots: mine.filter((a) => a.state === 'PENDING').reduce((n, a) => n + a.slots, 0),
      };
    });
  }

  async describeJobs(): Promise<JobInfo[]> {
    const live = await this.liveOfMine();
    const out: JobInfo[] = [];
    for (const w of this.watches.values()) {
      const mine = live.filter((a) => a.pool === w.cfg.pool);
      const byId = new Map(mine.map((a) => [a.id, a]));
      for (const q of queueOrder(buildSnapshot(this.schedulerAgents(w, mine), mine, this.opts.scheduling))) {
        const a = byId.get(q.allocationId)!;
        out.push({
          allocationId: a.id,
          experimentId: a.experimentId,
          trialId: a.trialId,
          state: a.state as JobInfo['state'],
          slots: a.slots,
          resourcePool: a.pool,
          priority: a.priority,
          weight: a.weight,
          position: q.position,
          reason: q.state === 'pending' ? q.reason : null,
          submittedAt: a.createdAt.toISOString(),
        });
      }
    }
    return out;
  }

  capacity(): { agents: number; slots: number } {
    let agents = 0;
    let slots = 0;
    for (const w of this.watches.values()) {
      for (const n of this.poolNodes(w)) {
        agents++;
        slots += n.slots;
      }
    }
    return { agents, slots };
  }
}
