// The reconciler: one per resource pool with a provider. Each pass syncs the instance rows from the world (the
// cloud's list and the agents that are connected), then steps forward (decide(), store the decision, execute it).
// The rows are the source of truth; the cloud's list is evidence. Rules, in the order a pass applies them:
// - A failed list (an exception: providers never return a partial one) changes nothing but the stated reason.
// - `requested` row: the master wrote it and was then asked to launch; launch it (again) with its idempotency
//   key: after a crash the cloud answers with the instance it already started for that key, never a second one.
// - `launching`/`running`/`idle` row missing from the list, or terminated there: the instance is gone
//   (interrupted spot, deleted by hand): the row is terminated with that reason.
// - `terminating` row: terminate again until the list no longer shows it; then terminated.
// - An instance tagged for this master and pool that no live row claims is a leak (every launch writes its row
//   first, so nothing legitimate is unknown): it is terminated, reason `unknown`.
// - Agents: a launching instance whose agent (agent id = instance id) connected is registered: running when it
//   holds an allocation, else idle; running and idle follow its allocations.
// - Launch failures in a row (decide()'s back-off) are derived from the pool's history at the first pass
//   (launchFailures.ts), so a restarted master keeps backing off instead of launching at once.
import crypto from 'node:crypto';
import type { ProvisionerPoolStatus } from '@hone/protocol';
import type { Database } from '../db';
import * as instancesDb from '../db/instances';
import type { InstanceRecord } from '../db/instances';
import { deleteAgent } from '../db/agents';
import { listLiveAllocations } from '../db/allocations';
import { decide } from './decide';
import { launchFailuresFromHistory, type LaunchFailures } from './launchFailures';
import { provisionerSnapshot, type AgentView, type AllocationView } from './snapshot';
import { LaunchError, type CloudInstance, type Provider } from './providers/provider';
import type { Decision, InstanceState, ProviderConfig } from './types';

export interface ReconcilerDeps {
  db: Database;
  pool: string;
  config: ProviderConfig;
  provider: Provider;
  masterId: string;
  masterUrl: () => string;
  agentToken?: string;
  /** Connected agents, now. */
  agents: () => AgentView[];
  onChange: () => void;
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
}

/** Where a pool's provisioner stands (the API's answer, less the instances). */
export type PoolStatus = ProvisionerPoolStatus;

export class PoolReconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Launch failures in a row (the back-off's count): derived from the pool's history at the first pass. */
  private failures: LaunchFailures = { count: 0, lastAt: 0 };
  private failuresLoaded = false;
  private readonly away = new Map<string, number>();
  private last: { at: number; reasons: string[]; listOk: boolean } | null = null;
  /** Launches and terminations by reason since start (Prometheus counters read them). */
  readonly launches = new Map<string, number>();
  readonly terminations = new Map<string, number>();

  constructor(private readonly d: ReconcilerDeps) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.d.config.reconcile_interval * 1000);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Runs a pass now unless one is running. */
  kick(): void {
    if (this.stopped || this.running) return;
    this.running = this.pass()
      .then(() => undefined)
      .catch((e) => this.d.log.warn({ pool: this.d.pool, err: (e as Error).stack }, 'provisioner pass failed'))
      .finally(() => {
        this.running = null;
      });
  }

  status(): PoolStatus {
    const c = this.d.config;
    return {
      pool: this.d.pool,
      provider: c.type,
      instanceType: c.instance_type,
      minInstances: c.min_instances,
      maxInstances: c.max_instances,
      slotsPerInstance: c.slots_per_instance,
      hourlyCost: c.hourly_cost ?? null,
      lastPassAt: this.last ? new Date(this.last.at).toISOString() : null,
      lastReasons: this.last?.reasons ?? ['no pass yet'],
      listOk: this.last?.listOk ?? false,
      launchFailures: this.failures.count,
    };
  }

  private count(m: Map<string, number>, reason: string, n = 1): void {
    m.set(reason, (m.get(reason) ?? 0) + n);
  }

  private async move(row: InstanceRecord, to: InstanceState, reason: string | null, extra: { cloudId?: string; idleSince?: Date | null } = {}): Promise<InstanceRecord | null> {
    const r = await instancesDb.moveInstance(this.d.db, row.id, to, reason, extra);
    if (r && r.state !== row.state) {
      this.d.log.info({ pool: this.d.pool, instance: row.id, from: row.state, to, reason }, `instance ${row.id}: ${row.state} -> ${to}${reason ? ` (${reason})` : ''}`);
      if (to === 'terminated') {
        // Its agent id is never reused: forget the agent, so the cluster view lists only live machines.
        await deleteAgent(this.d.db, row.id);
      }
      this.d.onChange();
    }
    return r;
  }

  /** One pass: sync, decide, execute. */
  async pass(now = Date.now()): Promise<Decision> {
    const { db, pool, config, provider } = this.d;
    if (!this.failuresLoaded) {
      // A restarted master backs off where the previous one was (failures are in the rows' history).
      this.failures = launchFailuresFromHistory(await instancesDb.poolHistorySinceRegistration(db, pool));
      this.failuresLoaded = true;
    }
    let cloud: CloudInstance[] | null = null;
    let listError = '';
    try {
      cloud = await provider.list();
    } catch (e) {
      listError = (e as Error).message;
      // Said once per outage, not every pass; the pool's status carries it meanwhile.
      if (this.last?.listOk !== false) this.d.log.warn({ pool, err: listError }, 'the cloud did not list the pool\'s instances: changing nothing until it does');
    }
    let rows = await instancesDb.listInstances(db, pool);
    const agents = this.d.agents().filter((a) => a.pool === pool);
    const connected = new Set(agents.map((a) => a.id));
    const live = await listLiveAllocations(db);
    const allocations: AllocationView[] = live.map((a) => {
      const slotsOn: Record<string, number> = {};
      for (const p of a.placement ?? []) slotsOn[p.agentId] = (slotsOn[p.agentId] ?? 0) + p.devices.length;
      return {
        id: a.id,
        groupId: String(a.experimentId),
        pool: a.pool,
        slots: a.slots,
        pending: a.state === 'PENDING',
        agents: Object.keys(slotsOn),
        slotsOn,
        ...(a.maxSlots ? { maxSlots: a.maxSlots } : {}),
      };
    });
    const busy = new Set(allocations.filter((a) => !a.pending).flatMap((a) => a.agents));

    if (cloud) {
      const byKey = new Map(cloud.map((c) => [c.key, c]));
      const claimed = new Set<string>();
      for (const row of rows) {
        const c = byKey.get(row.idempotencyKey);
        if (c) claimed.add(c.key);
        const gone = !c || c.state === 'terminated';
        if (row.state === 'requested') continue; // launched below
        if (row.state === 'terminating') {
          if (gone) await this.move(row, 'terminated', null);
          else await this.terminate([row], null);
          continue;
        }
        if (gone) {
          const reason = c?.interrupted ? 'interrupted' : 'vanished';
          this.count(this.terminations, reason);
          await this.move(row, 'terminated', reason);
        }
      }
      const leaks = cloud.filter((c) => !claimed.has(c.key) && c.state !== 'terminated');
      if (leaks.length) {
        this.d.log.warn({ pool, instances: leaks.map((l) => l.cloudId) }, 'terminating instances tagged for this master and pool that no instance row claims');
        this.count(this.terminations, 'unknown', leaks.length);
        await provider.terminate(leaks.map((l) => ({ id: l.id, cloudId: l.cloudId, key: l.key }))).catch((e) => this.d.log.warn({ err: (e as Error).message }, 'terminating leaked instances failed'));
      }
      rows = await instancesDb.listInstances(db, pool);
      for (const row of rows) if (row.state === 'requested') await this.launchRow(row, byKey.get(row.idempotencyKey));
    }

    // Agents and their work move registered instances between running and idle.
    rows = await instancesDb.listInstances(db, pool);
    for (const row of rows) {
      if (row.state === 'terminating' || row.state === 'terminated' || row.state === 'requested') continue;
      if (connected.has(row.id)) {
        this.away.delete(row.id);
        const want: InstanceState = busy.has(row.id) ? 'running' : 'idle';
        if (row.state === 'launching') this.failures = { count: 0, lastAt: 0 };
        if (row.state !== want) await this.move(row, want, row.state === 'launching' ? 'agent registered' : null);
      } else if (row.state !== 'launching' && !this.away.has(row.id)) this.away.set(row.id, now);
    }
    rows = await instancesDb.listInstances(db, pool);

    const snapshot = provisionerSnapshot({
      pool,
      listOk: cloud !== null,
      rows: rows.map((r) => ({ id: r.id, state: r.state, createdAt: r.createdAt.getTime(), idleSince: r.idleSince?.getTime() ?? null })),
      agents,
      allocations,
      disconnectedSince: this.away,
      launchFailures: this.failures,
      slotsPerInstance: config.slots_per_instance,
    });
    const decision = decide(snapshot, config, now);
    if (!cloud) decision.reasons = [`${decision.reasons[0]} (${listError})`];
    this.last = { at: now, reasons: decision.reasons, listOk: cloud !== null };

    const byId = new Map(rows.map((r) => [r.id, r]));
    // Work may have been placed since the snapshot: an instance that holds an allocation now is never released.
    const placedNow = decision.terminate.length
      ? new Set((await listLiveAllocations(db)).flatMap((a) => (a.placement ?? []).map((p) => p.agentId)))
      : new Set<string>();
    const doomed = decision.terminate.map((t) => ({ row: byId.get(t.id)!, reason: t.reason })).filter((t) => t.row && !placedNow.has(t.row.id));
    for (const t of doomed) {
      if (t.reason === 'start-timeout') this.failures = { count: this.failures.count + 1, lastAt: now };
      this.count(this.terminations, t.reason);
    }
    for (const t of doomed) await this.move(t.row, 'terminating', t.reason);
    if (doomed.length) await this.terminate(doomed.map((t) => t.row), null);
    for (let i = 0; i < decision.launch; i++) {
      const key = crypto.randomUUID();
      const row = await instancesDb.insertRequested(db, {
        id: `${pool}-${key.slice(0, 8)}`,
        pool,
        provider: config.type,
        idempotencyKey: key,
        instanceType: config.instance_type,
        slots: config.slots_per_instance,
        reason: decision.reasons.find((r) => r.startsWith('launching')) ?? 'launch',
      });
      this.count(this.launches, decision.reasons.some((r) => r.includes('min_instances is')) ? 'min_instances' : 'demand');
      this.d.onChange();
      await this.launchRow(row, undefined);
    }
    if (decision.launch || doomed.length) this.d.log.info({ pool, launch: decision.launch, terminate: decision.terminate, reasons: decision.reasons }, 'provisioner decided');
    return decision;
  }

  /**
   * Terminates every instance of the pool (the local provider's machines when the master stops: they are this
   * machine's processes, not a cloud's, and a clean stop leaves none behind).
   */
  async terminateAll(reason: string): Promise<void> {
    const rows = await instancesDb.listInstances(this.d.db, this.d.pool);
    for (const r of rows) await this.move(r, 'terminating', reason);
    if (rows.length) await this.terminate(rows, reason);
    for (const r of rows) await this.move({ ...r, state: 'terminating' }, 'terminated', null);
    this.count(this.terminations, reason, rows.length);
  }

  get providerType(): string {
    return this.d.provider.type;
  }

  /** Launches a `requested` row (again, with its key, if the cloud already has it). */
  private async launchRow(row: InstanceRecord, seen: CloudInstance | undefined): Promise<void> {
    if (seen && seen.state !== 'terminated') {
      await this.move(row, 'launching', 'the cloud already had it (launch repeated after a restart)', { cloudId: seen.cloudId });
      return;
    }
    try {
      const { cloudId } = await this.d.provider.launch({
        id: row.id,
        key: row.idempotencyKey,
        pool: row.pool,
        masterId: this.d.masterId,
        slots: row.slots,
        instanceType: row.instanceType,
        masterUrl: (this.d.config.fields.master_url as string | undefined) ?? this.d.masterUrl(),
        ...(this.d.agentToken ? { agentToken: this.d.agentToken } : {}),
      });
      await this.move(row, 'launching', null, { cloudId });
    } catch (e) {
      const kind = e instanceof LaunchError ? e.kind : 'other';
      this.failures = { count: this.failures.count + 1, lastAt: Date.now() };
      this.count(this.terminations, 'launch-error');
      this.d.log.warn({ pool: row.pool, instance: row.id, kind, err: (e as Error).message, failures: this.failures.count }, 'launch failed');
      await this.move(row, 'terminated', `launch-error (${kind}): ${(e as Error).message}`.slice(0, 500));
    }
  }

  private async terminate(rows: InstanceRecord[], _reason: string | null): Promise<void> {
    try {
      await this.d.provider.terminate(rows.map((r) => ({ id: r.id, cloudId: r.cloudId, key: r.idempotencyKey })));
    } catch (e) {
      this.d.log.warn({ pool: this.d.pool, err: (e as Error).message }, 'terminate failed; retrying next pass');
    }
  }
}
