// Cluster views: agents, slots, resource pools and the job queue (`hone agent list`, `slot list`, ...).
import type { AgentInfo, Device, JobInfo, ResourcePoolInfo, SlotInfo } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import type { App, MasterContext } from '../server';
import { planInputFrom, planQueue, type AllocationRow } from '../rm/scheduling';

interface Row extends AllocationRow {
  trial_id: number;
  created_at: Date;
}

export async function loadClusterState(ctx: MasterContext) {
  const agents = await ctx.db.query<{ id: string; resource_pool: string; hostname: string; devices: Device[]; version: string; last_seen: Date }>(
    'SELECT id, resource_pool, hostname, devices, version, last_seen FROM agents ORDER BY id',
  );
  const allocs = await ctx.db.query<Row>(
    `SELECT a.id, a.trial_id, a.experiment_id, a.state, a.slots, a.resource_pool, a.placement, a.preempt_requested, a.seq, a.created_at,
            e.priority, e.weight, e.max_slots
       FROM allocations a JOIN experiments e ON e.id = a.experiment_id WHERE a.state <> 'TERMINATED' ORDER BY a.seq`,
  );
  return { agents: agents.rows, allocations: allocs.rows };
}

export function registerClusterRoutes(app: App, ctx: MasterContext): void {
  app.get(`${API_PREFIX}/agents`, { schema: { tags: ['cluster'] } }, async (): Promise<AgentInfo[]> => {
    const { agents, allocations } = await loadClusterState(ctx);
    const used = new Map<string, Row>();
    for (const a of allocations) for (const p of a.placement ?? []) for (const d of p.devices) used.set(`${p.agentId}/${d}`, a);
    return agents.map((a) => {
      const live = ctx.hub.agents.get(a.id);
      const devices = live?.devices ?? a.devices;
      const slots: SlotInfo[] = devices.map((d) => {
        const al = used.get(`${a.id}/${d.id}`);
        return { agentId: a.id, id: d.id, type: d.type, brand: d.brand, allocationId: al?.id ?? null, trialId: al?.trial_id ?? null, experimentId: al?.experiment_id ?? null };
      });
      return {
        id: a.id,
        resourcePool: live?.pool ?? a.resource_pool,
        hostname: live?.hostname ?? a.hostname,
        state: live ? 'CONNECTED' : 'DISCONNECTED',
        slots,
        lastSeen: (live ? new Date(live.lastSeen) : a.last_seen).toISOString(),
        version: a.version,
      };
    });
  });

  app.get(`${API_PREFIX}/resource-pools`, { schema: { tags: ['cluster'] } }, async (): Promise<ResourcePoolInfo[]> => {
    const { allocations } = await loadClusterState(ctx);
    const pools = new Map<string, ResourcePoolInfo>();
    const pool = (name: string) => {
      if (!pools.has(name)) pools.set(name, { name, agents: 0, slots: 0, slotsUsed: 0, pendingAllocations: 0, pendingSlots: 0 });
      return pools.get(name)!;
    };
    pool('default');
    for (const a of ctx.hub.agents.values()) {
      const p = pool(a.pool);
      p.agents += 1;
      p.slots += a.devices.length;
    }
    for (const a of allocations) {
      const p = pool(a.resource_pool);
      if (a.state === 'PENDING') {
        p.pendingAllocations += 1;
        p.pendingSlots += a.slots;
      } else p.slotsUsed += a.slots;
    }
    return [...pools.values()].sort((a, b) => a.name.localeCompare(b.name));
  });

  app.get(`${API_PREFIX}/jobs`, { schema: { tags: ['cluster'] } }, async (): Promise<JobInfo[]> => {
    const { allocations } = await loadClusterState(ctx);
    const input = planInputFrom(ctx.hub.agents.values(), allocations, { policy: ctx.opts.schedulerPolicy, fit: ctx.opts.fit, preemption: ctx.opts.preemption });
    const byId = new Map(allocations.map((a) => [a.id, a]));
    return planQueue(input).map((q) => {
      const a = byId.get(q.allocationId)!;
      return {
        allocationId: a.id,
        experimentId: a.experiment_id,
        trialId: a.trial_id,
        state: a.state as JobInfo['state'],
        slots: a.slots,
        resourcePool: a.resource_pool,
        priority: a.priority,
        weight: a.weight,
        position: q.position,
        reason: q.state === 'pending' ? q.reason : null,
        submittedAt: a.created_at.toISOString(),
      };
    });
  });
}
