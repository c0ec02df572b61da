// The agent resource manager: turns trials that want to run into allocations, asks the pure scheduler where
// they go, and carries that out on agents (start, preempt, kill). Lifecycle decisions (lost agents, preemption
// timeouts, rank exits) come from the pure functions in ../lifecycle; this class loads state, calls them,
// persists the result, then performs the effects. Effects are keyed by allocation id and safe to repeat.
import crypto from 'node:crypto';
import type { AgentInfo, AgentToMaster, ExperimentConfig, JobInfo, ResourcePoolInfo, RunningTask, SlotInfo, StartTask } from '@hone/protocol';
import { API_PREFIX, TERMINAL_EXPERIMENT_STATES } from '@hone/protocol';
import type { Database, Queryable } from '../../db';
import * as allocationsDb from '../../db/allocations';
import type { LiveAllocation } from '../../db/allocations';
import * as agentsDb from '../../db/agents';
import { getExperimentConfig } from '../../db/experiments';
import { trialsWantingAllocation } from '../../db/trials';
import type { EventBus } from '../../events';
import type { ExperimentController } from '../../experiments/controller';
import { ingestLogs, levelOf } from '../../experiments/taskLogs';
import { insertLogs } from '../../db/logs';
import { canEverFit, IncrementalScheduler, queueOrder, type Agent, type FitCheck, type ScheduleOptions } from '../../scheduler';
import {
  agentDisconnected,
  agentHello,
  allocationEnded,
  decideLifecycle,
  initialObservations,
  rankExited,
  RANK_FAILURE_GRACE_MS,
  rankRunning,
  ranksOf,
  type AllocationOutcome,
  type Decision,
  type LifecycleAction,
  type LifecycleOptions,
  type Observations,
} from '../lifecycle';
import type { ResourceManager } from '../resourceManager';
import { LiveAllocations } from '../liveAllocations';
import { buildSnapshot, SnapshotBuilder } from '../snapshot';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import type { Placement } from '../../scheduler/types';
import { controlPlaneStats } from '../../controlPlaneStats';
import type { AgentHello, AgentHub, ConnectedAgent, ConnectionInfo } from './agentHub';
import { decideAdmission, hashAgentSecret, newAgentSecret } from './agentCredentials';
import { deliveryOf } from './delivery';
import { PassCoalescer } from '../passCoalescer';

export interface AgentResourceManagerOptions {
  /** The URL harnesses use to reach the master (known once it listens). */
  masterUrl: () => string;
  /** How long an agent may be gone before its allocations are declared lost. */
  agentGraceMs: number;
  /** How long a preempted allocation gets to checkpoint and exit before it is killed. */
  preemptionTimeoutMs: number;
  scheduling: ScheduleOptions;
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
  /** Pools another resource manager runs (Kubernetes): their allocations are left to it. Default: none. */
  otherPool?: (pool: string) => boolean;
}

/** How long after an agent's hello its unreported ranks are settled (it replays queued exits right after hello). */
const HELLO_SETTLE_MS = 3000;
/** Placements remembered for checking who speaks about an allocation (live ones, and those that just ended). */
const PLACEMENTS_KEPT = 10_000;

/** Where an allocation's ranks run: agent id → its ranks (null: this agent's ranks are not known, only that it ran some). */
interface PlacementRecord {
  trialId: number;
  agents: Map<string, Set<number> | null>;
}

export class AgentResourceManager implements ResourceManager {
  private timer: NodeJS.Timeout | null = null;
  private readonly passes = new PassCoalescer(
    () => this.pass(),
    (e) => this.opts.log.warn({ err: e.stack }, 'scheduling pass failed'),
  );
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  /** Experiments whose end the agents were told of (experimentEnded), oldest first. */
  private readonly endedSent = new Set<number>();
  /** The scheduler keeps its state between passes and decides as a fresh `schedule` would (see scheduler/incremental.ts). */
  private readonly scheduler = new IncrementalScheduler({ reasons: false });
  /** The live allocation rows, kept between passes (each pass reads back only what was written since). */
  private readonly live: LiveAllocations;
  private readonly snapshots = new SnapshotBuilder();
  private obs: Observations = initialObservations(Date.now());
  private readonly lifecycle: LifecycleOptions;
  /** Launch settings per experiment (entrypoint, environment): they never change after submission. */
  private readonly launchConfig = new Map<number, Pick<ExperimentConfig, 'entrypoint' | 'environment'>>();
  /**
   * Placements by allocation id, oldest first, so that `taskState` and `logBatch` are accepted only from the
   * agent an allocation is placed on — also just after it ended, when its last log lines arrive.
   */
  private readonly placements = new Map<string, PlacementRecord>();
  /** Refusals already warned about (agent, allocation, message type, reason), so a misbehaving agent cannot flood the log. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly experiments: ExperimentController,
    private readonly hub: AgentHub,
    private readonly opts: AgentResourceManagerOptions,
  ) {
    this.lifecycle = { agentGraceMs: opts.agentGraceMs, preemptionTimeoutMs: opts.preemptionTimeoutMs, helloSettleMs: HELLO_SETTLE_MS, rankFailureGraceMs: RANK_FAILURE_GRACE_MS };
    this.live = new LiveAllocations(db);
    hub.useAdmission((hello, conn) => this.admit(hello, conn));
  }

  start(): void {
    this.timer = setInterval(() => this.requestPass(), 1000);
    this.unsubscribe = this.bus.subscribe((e) => {
      if (e.type === 'experiment' && TERMINAL_EXPERIMENT_STATES.includes(e.experiment.state)) this.experimentEnded(e.experiment.id);
    });
    this.requestPass();
  }

  /** Tells every agent once that an experiment ended: processes waiting for its next trial can go. */
  private experimentEnded(id: number): void {
    if (this.endedSent.has(id)) return;
    this.endedSent.add(id);
    if (this.endedSent.size > 10_000) this.endedSent.delete(this.endedSent.values().next().value!);
    for (const agentId of this.hub.agents.keys()) this.hub.send(agentId, { type: 'experimentEnded', experimentId: id });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.passes.stop();
    this.live.close();
  }

  /** Asks for a scheduling pass soon; passes are coalesced with a short minimum interval. */
  requestPass(): void {
    this.passes.request();
  }

  releaseExperiment(tx: Queryable, experimentId: number, how: 'preempt' | 'kill', reason: string): Promise<void> {
    return allocationsDb.releaseExperimentAllocations(tx, experimentId, how, reason);
  }

  // ---- the pass ----

  private schedulerAgents(): Agent[] {
    return [...this.hub.agents.values()].map((a) => ({ id: a.id, pool: a.pool, slots: a.devices.map((d) => d.id), enabled: true }));
  }

  /** Live allocations of the pools this manager runs. */
  private async liveOfMine(): Promise<LiveAllocation[]> {
    const live = await this.live.read();
    const other = this.opts.otherPool;
    return other ? live.filter((a) => !other(a.pool)) : live;
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    const t0 = performance.now();
    try {
      await this.passOnce();
    } finally {
      controlPlaneStats.schedulingPasses += 1;
      controlPlaneStats.schedulingPassSeconds += (performance.now() - t0) / 1000;
    }
  }

  private async passOnce(): Promise<void> {
    await this.requestAllocations();
    let live = await this.liveOfMine();
    for (const a of live) if (a.placement && !this.placements.has(a.id)) this.rememberPlacement(a.id, a.trialId, a.placement);
    await this.apply(decideLifecycle(live, this.obs, this.lifecycle, Date.now()));
    live = await this.liveOfMine();
    const plan = this.scheduler.schedule(this.snapshots.build(this.schedulerAgents(), live, this.opts.scheduling));
    for (const as of plan.assign) {
      const a = this.live.get(as.allocationId);
      if (!a || !(await allocationsDb.assignAllocation(this.db, a.id, as.placement))) continue;
      await this.launch({ ...a, state: 'ASSIGNED', placement: as.placement });
    }
    if (plan.preempt.length) {
      await allocationsDb.requestPreemption(this.db, plan.preempt);
      for (const id of plan.preempt) this.bus.publish({ type: 'allocation', allocationId: id });
    }
    if (plan.assign.length || plan.preempt.length) this.bus.publish({ type: 'cluster' });
  }

  /** Creates a PENDING allocation for each trial that has work and nothing live. */
  private async requestAllocations(): Promise<void> {
    await this.experiments.run(async (tx) => {
      for (const t of await trialsWantingAllocation(tx)) {
        await allocationsDb.insertPendingAllocation(tx, {
          id: crypto.randomUUID(),
          trialId: t.id,
          experimentId: t.experimentId,
          slots: t.slots,
          pool: t.pool,
          token: crypto.randomBytes(24).toString('base64url'),
        });
      }
    });
  }

  /** Keeps the decision's observations and performs its actions, in order. */
  private async apply(d: Decision, fresh?: LiveAllocation): Promise<void> {
    this.obs = d.obs;
    for (const act of d.actions) await this.perform(act, fresh?.id === act.allocationId ? fresh : this.live.get(act.allocationId));
  }

  private async perform(act: LifecycleAction, a: LiveAllocation | undefined): Promise<void> {
    switch (act.kind) {
      case 'finish':
        if (act.outcome.reason === 'lost') this.opts.log.warn({ allocation: act.allocationId }, 'allocation lost: its agent did not come back');
        await this.finish(act.allocationId, act.outcome);
        return;
      case 'signal':
        if (act.agentId) this.hub.send(act.agentId, { type: 'signalTask', allocationId: act.allocationId, signal: act.signal });
        else for (const p of a?.placement ?? []) this.hub.send(p.agentId, { type: 'signalTask', allocationId: act.allocationId, signal: act.signal });
        return;
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
      case 'relaunch':
        // Never started: the startTask was lost with the previous master. Start it again (agents de-duplicate).
        if (a) await this.launch(a);
        return;
    }
  }

  private async finish(allocationId: string, outcome: AllocationOutcome): Promise<void> {
    this.obs = allocationEnded(this.obs, allocationId);
    await this.experiments.allocationEnded(allocationId, outcome);
    this.bus.publish({ type: 'allocation', allocationId });
    this.requestPass();
  }

  private async launchSettings(experimentId: number): Promise<Pick<ExperimentConfig, 'entrypoint' | 'environment'>> {
    let s = this.launchConfig.get(experimentId);
    if (!s) {
      const config = await getExperimentConfig(this.db, experimentId);
      s = { entrypoint: config?.entrypoint ?? '', environment: config?.environment ?? { variables: {} } };
      if (this.launchConfig.size > 1000) this.launchConfig.clear();
      this.launchConfig.set(experimentId, s);
    }
    return s;
  }

  private async launch(a: LiveAllocation): Promise<void> {
    if (a.placement) this.rememberPlacement(a.id, a.trialId, a.placement);
    const ranks = ranksOf(a.placement);
    const { entrypoint, environment } = await this.launchSettings(a.experimentId);
    const masterUrl = this.opts.masterUrl();
    for (const r of ranks) {
      const msg: StartTask = {
        type: 'startTask',
        allocationId: a.id,
        trialId: a.trialId,
        experimentId: a.experimentId,
        rank: r.rank,
        worldSize: ranks.length,
        devices: [r.device],
        entrypoint,
        contextUrl: `${masterUrl}${API_PREFIX}/experiments/${a.experimentId}/context`,
        env: {
          ...environment.variables,
          HONE_MASTER_URL: masterUrl,
          HONE_TASK_TOKEN: a.token,
          HONE_ALLOCATION_ID: a.id,
          HONE_TRIAL_ID: String(a.trialId),
          HONE_EXPERIMENT_ID: String(a.experimentId),
          HONE_RANK: String(r.rank),
          HONE_WORLD_SIZE: String(ranks.length),
          HONE_ENTRYPOINT: entrypoint,
        },
      };
      if (!this.hub.send(r.agentId, msg)) this.opts.log.warn({ allocation: a.id, agent: r.agentId }, 'could not send startTask');
    }
    this.opts.log.info({ allocation: a.id, trial: a.trialId, placement: a.placement }, 'allocation assigned');
  }

  // ---- agent events (the hub calls these in order per agent) ----

  /**
   * Whether a hello may take its agent id (the hub asks before the connection replaces another): see
   * agentCredentials.ts. A new credential is stored (hashed) before the welcome carries the secret.
   */
  async admit(hello: AgentHello, conn: ConnectionInfo & { live: boolean }): Promise<{ admit: true; issuedSecret?: string } | { admit: false; code: number; reason: string }> {
    const stored = await agentsDb.getAgentCredential(this.db, hello.agentId);
    const d = decideAdmission({ agentId: hello.agentId, stored, presented: hello.agentSecret, token: conn.token, live: conn.live });
    if (!d.admit) return d;
    if (d.confirm) await agentsDb.confirmAgentCredential(this.db, hello.agentId);
    if (!d.issue) return { admit: true };
    const secret = newAgentSecret();
    const stored2 = await agentsDb.issueAgentCredential(this.db, {
      id: hello.agentId,
      pool: hello.resourcePool || 'default',
      hostname: hello.hostname,
      devices: hello.devices,
      version: hello.version,
      secretHash: hashAgentSecret(secret),
    });
    if (!stored2) return { admit: false, code: AGENT_CLOSE_CODES.CREDENTIAL_REFUSED, reason: `agent ${hello.agentId} confirmed its credential meanwhile` };
    this.opts.log.info({ agent: hello.agentId, remote: conn.remote }, stored ? 'issued a new agent credential (the last one was never presented)' : 'issued a credential to a new agent');
    return { admit: true, issuedSecret: secret };
  }

  /**
   * Forgets an agent and its credential (an operator's reset) and closes its connection: its next hello is a new
   * agent's, admitted by the cluster agent token. Returns whether the agent was known.
   */
  async forgetAgent(agentId: string): Promise<boolean> {
    const known = await agentsDb.deleteAgent(this.db, agentId);
    this.hub.disconnect(agentId, AGENT_CLOSE_CODES.CREDENTIAL_REFUSED, 'the agent was deleted on the master; reconnect with the cluster agent token');
    this.bus.publish({ type: 'cluster' });
    return known;
  }

  async onHello(agent: ConnectedAgent, running: RunningTask[]): Promise<void> {
    await agentsDb.upsertConnectedAgent(this.db, agent);
    const agentSecret = agent.issuedSecret;
    delete agent.issuedSecret;
    if (agent.outbox) {
      // Where we stand in its outbox; a new epoch (a fresh work directory) starts over, and what the agent no
      // longer has (below its firstSeq) cannot come again.
      const { epoch, firstSeq } = agent.outbox;
      const stored = await agentsDb.getAgentOutbox(this.db, agent.id);
      let seq = stored && stored.epoch === epoch ? stored.seq : 0;
      if (seq < firstSeq - 1) seq = firstSeq - 1;
      if (!stored || stored.epoch !== epoch || stored.seq !== seq) await agentsDb.setAgentOutbox(this.db, agent.id, epoch, seq);
      agent.storedSeq = seq;
    }
    const live = await this.liveOfMine();
    await this.apply(agentHello(this.obs, agent.id, running, live, this.lifecycle, Date.now(), agent.exiting ?? []));
    // After the reconciliation: the agent then sends its queued messages (exits of ranks that died while away).
    this.hub.send(agent.id, { type: 'welcome', masterVersion: '0.1.0', heartbeatIntervalMs: 5000, acks: true, ...(agentSecret ? { agentSecret } : {}) });
    this.bus.publish({ type: 'cluster' });
    this.requestPass();
  }

  async onDisconnect(agent: ConnectedAgent): Promise<void> {
    this.obs = agentDisconnected(this.obs, agent.id, Date.now());
    await agentsDb.markAgentDisconnected(this.db, agent.id);
    this.bus.publish({ type: 'cluster' });
  }

  /**
   * A message from an agent. Sequenced ones (taskState, logBatch with `seq`) are stored once, in order: a repeat
   * is acknowledged again without storing it, one past a gap (an earlier one failed to store) is ignored until
   * the agent sends the gap again; the acknowledgement goes out only after the message and its seq are stored.
   * A failure to store throws (the hub logs it) and sends no acknowledgement: the agent keeps the message and retries.
   */
  async onMessage(agent: ConnectedAgent, msg: AgentToMaster): Promise<void> {
    const seq = msg.type === 'taskState' || msg.type === 'logBatch' ? msg.seq : undefined;
    if (seq === undefined || !agent.outbox || agent.storedSeq === undefined) {
      await this.handleMessage(agent, msg);
      return;
    }
    const delivery = deliveryOf(agent.storedSeq, seq);
    if (delivery === 'repeat') this.hub.send(agent.id, { type: 'ack', seq: agent.storedSeq });
    if (delivery !== 'store') return;
    const epoch = agent.outbox.epoch;
    // Log lines and their seq in one transaction (a repeat never stores them twice); an exit's effects are
    // idempotent (a second report of a known exit changes nothing), so its seq is recorded after them.
    const recorded = await this.handleMessage(agent, msg, (tx) => agentsDb.setAgentOutbox(tx, agent.id, epoch, seq));
    if (!recorded) await agentsDb.setAgentOutbox(this.db, agent.id, epoch, seq);
    agent.storedSeq = seq;
    this.hub.send(agent.id, { type: 'ack', seq });
  }

  /** Handles one agent message; returns true when `recordSeq` ran in the same transaction as its storing. */
  private async handleMessage(agent: ConnectedAgent, msg: AgentToMaster, recordSeq?: (tx: Queryable) => Promise<void>): Promise<boolean> {
    switch (msg.type) {
      case 'heartbeat':
      case 'hello':
        return false;
      case 'logBatch': {
        if (!(await this.fromPlacedAgent(agent, msg.allocationId, msg.logs.map((l) => l.rank), msg.trialId, msg.type))) return false;
        const lines = msg.logs.map((l) => ({ allocationId: msg.allocationId, agentId: agent.id, rank: l.rank, stream: l.stream, level: levelOf(l.line, l.stream), ts: l.ts, line: l.line }));
        if (!recordSeq) {
          await ingestLogs(this.db, this.bus, msg.trialId, lines);
          return false;
        }
        const stored = await this.db.transaction(async (tx) => {
          const rows = await insertLogs(tx, msg.trialId, lines);
          await recordSeq(tx);
          return rows;
        });
        for (const log of stored) this.bus.publish({ type: 'log', log });
        return true;
      }
      case 'taskState': {
        if (!(await this.fromPlacedAgent(agent, msg.allocationId, [msg.rank], undefined, msg.type))) return false;
        if (msg.state === 'running') {
          const d = rankRunning(this.obs, msg.allocationId, msg.rank);
          this.obs = d.obs;
          for (const act of d.actions) await this.perform(act, undefined);
          return false;
        }
        const [a] = await allocationsDb.getLiveAllocations(this.db, [msg.allocationId]);
        if (!a) return false;
        await this.apply(rankExited(this.obs, a, msg.rank, msg.exitCode ?? null, this.lifecycle, Date.now()), a);
        return false;
      }
    }
  }

  // ---- who may speak about an allocation ----

  private rememberPlacement(allocationId: string, trialId: number, placement: Placement[] | null, agentIds: string[] = []): PlacementRecord {
    const agents = new Map<string, Set<number> | null>();
    for (const r of ranksOf(placement)) {
      const ranks = agents.get(r.agentId) ?? new Set<number>();
      ranks.add(r.rank);
      agents.set(r.agentId, ranks);
    }
    for (const id of agentIds) if (!agents.has(id)) agents.set(id, null);
    const rec = { trialId, agents };
    this.placements.delete(allocationId);
    this.placements.set(allocationId, rec);
    while (this.placements.size > PLACEMENTS_KEPT) this.placements.delete(this.placements.keys().next().value!);
    return rec;
  }

  /** The placement of an allocation: remembered, else live in the database, else among `trialId`'s runs (ended ones too). */
  private async placementOf(allocationId: string, trialId: number | undefined): Promise<PlacementRecord | null> {
    const hit = this.placements.get(allocationId);
    if (hit) return hit;
    const [a] = await allocationsDb.getLiveAllocations(this.db, [allocationId]);
    if (a?.placement) return this.rememberPlacement(a.id, a.trialId, a.placement);
    if (a || trialId === undefined) return null;
    const run = (await allocationsDb.listTrialAllocations(this.db, trialId)).find((r) => r.id === allocationId);
    return run && run.agents.length ? this.rememberPlacement(allocationId, trialId, null, run.agents) : null;
  }

  /**
   * Whether `agent` may report about `allocationId` (ranks `ranks`, of trial `trialId` for logs): the allocation
   * must be placed on it, those ranks too. Anything else is ignored, with one warning per agent, allocation and kind.
   */
  private async fromPlacedAgent(agent: ConnectedAgent, allocationId: string, ranks: number[], trialId: number | undefined, type: string): Promise<boolean> {
    const rec = await this.placementOf(allocationId, trialId);
    let why: string | null = null;
    if (!rec) why = trialId === undefined ? 'no such live allocation' : `no allocation ${allocationId} of trial ${trialId}`;
    else if (trialId !== undefined && rec.trialId !== trialId) why = `allocation ${allocationId} belongs to trial ${rec.trialId}, not ${trialId}`;
    else if (!rec.agents.has(agent.id)) why = 'the allocation is not placed on this agent';
    else {
      const mine = rec.agents.get(agent.id);
      const other = mine ? ranks.find((r) => !mine.has(r)) : undefined;
      if (other !== undefined) why = `rank ${other} of the allocation is not placed on this agent`;
    }
    if (why === null) return true;
    // An exit for an allocation that no longer lives is old news from its own agent; nothing to say.
    if (!rec && type === 'taskState') return false;
    const key = `${agent.id}/${allocationId}/${type}/${why}`;
    if (!this.warned.has(key)) {
      if (this.warned.size >= 1000) this.warned.clear();
      this.warned.add(key);
      this.opts.log.warn({ agent: agent.id, allocation: allocationId, type, reason: why }, `ignored ${type} from agent ${agent.id} about allocation ${allocationId}: ${why}`);
    }
    return false;
  }

  // ---- views ----

  async canEverFit(pool: string, slots: number): Promise<FitCheck> {
    // Agents that are away count too: they may come back.
    const sizes = new Map<string, number[]>();
    for (const a of await agentsDb.listAgents(this.db, pool)) sizes.set(a.id, a.devices.map((d) => d.id));
    for (const a of this.hub.agents.values()) if (a.pool === pool) sizes.set(a.id, a.devices.map((d) => d.id));
    return canEverFit([...sizes].map(([id, s]) => ({ id, pool, slots: s, enabled: true })), pool, slots);
  }

  async describeAgents(): Promise<AgentInfo[]> {
    const [agents, allocations] = await Promise.all([agentsDb.listAgents(this.db), allocationsDb.listLiveAllocations(this.db)]);
    const used = new Map<string, LiveAllocation>();
    for (const a of allocations) for (const p of a.placement ?? []) for (const d of p.devices) used.set(`${p.agentId}/${d}`, a);
    return agents.map((a) => {
      const live = this.hub.agents.get(a.id);
      const devices = live?.devices ?? a.devices;
      const slots: SlotInfo[] = devices.map((d) => {
        const al = used.get(`${a.id}/${d.id}`);
        return { agentId: a.id, id: d.id, type: d.type, brand: d.brand, allocationId: al?.id ?? null, trialId: al?.trialId ?? null, experimentId: al?.experimentId ?? null };
      });
      return {
        id: a.id,
        resourcePool: live?.pool ?? a.pool,
        hostname: live?.hostname ?? a.hostname,
        state: live ? 'CONNECTED' : 'DISCONNECTED',
        slots,
        lastSeen: (live ? new Date(live.lastSeen) : a.lastSeen).toISOString(),
        version: a.version,
      };
    });
  }

  async describePools(): Promise<ResourcePoolInfo[]> {
    const allocations = await allocationsDb.listLiveAllocations(this.db);
    const pools = new Map<string, ResourcePoolInfo>();
    const pool = (name: string) => {
      if (!pools.has(name)) pools.set(name, { name, agents: 0, slots: 0, slotsUsed: 0, pendingAllocations: 0, pendingSlots: 0 });
      return pools.get(name)!;
    };
    pool('default');
    for (const a of this.hub.agents.values()) {
      const p = pool(a.pool);
      p.agents += 1;
      p.slots += a.devices.length;
    }
    for (const a of allocations) {
      const p = pool(a.pool);
      if (a.state === 'PENDING') {
        p.pendingAllocations += 1;
        p.pendingSlots += a.slots;
      } else p.slotsUsed += a.slots;
    }
    return [...pools.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async describeJobs(): Promise<JobInfo[]> {
    const allocations = await allocationsDb.listLiveAllocations(this.db);
    const byId = new Map(allocations.map((a) => [a.id, a]));
    return queueOrder(buildSnapshot(this.schedulerAgents(), allocations, this.opts.scheduling)).map((q) => {
      const a = byId.get(q.allocationId)!;
      return {
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
      };
    });
  }

  capacity(): { agents: number; slots: number } {
    let slots = 0;
    for (const a of this.hub.agents.values()) slots += a.devices.length;
    return { agents: this.hub.agents.size, slots };
  }
}
