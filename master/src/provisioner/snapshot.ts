// Builds decide()'s input from what the reconciler loaded: the pool's instance rows, the connected agents and the
// live allocations. Pure, so the master's pass and the simulations build the snapshot the same way.
import type { GroupLimit, InstanceState, InstanceView, PendingGang, ProvisionerSnapshot } from './types';

export interface InstanceRow {
  id: string;
  state: InstanceState;
  createdAt: number;
  idleSince: number | null;
}

export interface AgentView {
  id: string;
  pool: string;
  slots: number;
}

export interface AllocationView {
  id: string;
  groupId: string;
  pool: string;
  slots: number;
  pending: boolean;
  /** Agent ids it is placed on (assigned or running). */
  agents: string[];
  /** Slots it holds on each agent. */
  slotsOn: Record<string, number>;
  maxSlots?: number;
}

export function provisionerSnapshot(input: {
  pool: string;
  listOk: boolean;
  rows: InstanceRow[];
  agents: AgentView[];
  allocations: AllocationView[];
  disconnectedSince: ReadonlyMap<string, number>;
  launchFailures: { count: number; lastAt: number };
  slotsPerInstance: number;
}): ProvisionerSnapshot {
  const connected = new Map(input.agents.filter((a) => a.pool === input.pool).map((a) => [a.id, a]));
  const used = new Map<string, number>();
  const busy = new Set<string>();
  const pending: PendingGang[] = [];
  const groups = new Map<string, GroupLimit>();
  for (const a of input.allocations) {
    if (a.pool !== input.pool) continue;
    if (!groups.has(a.groupId)) groups.set(a.groupId, { id: a.groupId, heldSlots: 0, ...(a.maxSlots ? { maxSlots: a.maxSlots } : {}) });
    if (a.pending) {
      pending.push({ id: a.id, groupId: a.groupId, slots: a.slots });
      continue;
    }
    groups.get(a.groupId)!.heldSlots += a.slots;
    for (const ag of a.agents) {
      busy.add(ag);
      used.set(ag, (used.get(ag) ?? 0) + (a.slotsOn[ag] ?? 0));
    }
  }
  const rows = input.rows.filter((r) => r.state !== 'terminated');
  const managed = new Set(rows.map((r) => r.id));
  const instances: InstanceView[] = rows.map((r) => {
    const agent = connected.get(r.id);
    const starting = r.state === 'requested' || r.state === 'launching';
    const isBusy = busy.has(r.id);
    const away = input.disconnectedSince.get(r.id);
    return {
      id: r.id,
      state: r.state as InstanceView['state'],
      createdAt: r.createdAt,
      connected: !!agent,
      ...(!starting && !agent && away !== undefined ? { disconnectedSince: away } : {}),
      freeSlots: agent ? Math.max(0, agent.slots - (used.get(r.id) ?? 0)) : starting ? input.slotsPerInstance : 0,
      busy: isBusy,
      ...(!starting && !isBusy ? { idleSince: r.idleSince ?? r.createdAt } : {}),
    };
  });
  const staticFreeSlots = [...connected.values()].filter((a) => !managed.has(a.id)).map((a) => Math.max(0, a.slots - (used.get(a.id) ?? 0)));
  return { pool: input.pool, listOk: input.listOk, instances, pending, groups: [...groups.values()], staticFreeSlots, launchFailures: input.launchFailures };
}
