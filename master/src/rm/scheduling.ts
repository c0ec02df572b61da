// Adapter between the resource manager's rows and the pure scheduler core (../scheduler).
import { schedule, queueOrder, type Snapshot, type ScheduleResult, type QueueEntry } from '../scheduler';
import type { Placement } from './resourceManager';

export interface PlanInput {
  agents: Array<{ id: string; pool: string; slots: number[] }>;
  allocations: Array<{
    id: string;
    groupId: number;
    pool: string;
    slots: number;
    priority: number;
    weight: number;
    maxSlots: number | null;
    order: number;
    state: 'pending' | 'running';
    placement?: Placement[];
    preempting: boolean;
  }>;
  policy: 'priority' | 'fair_share';
  fit: 'best' | 'worst';
  preemption: boolean;
}

/** An allocation row joined with its experiment's scheduling settings, as the resource manager reads it. */
export interface AllocationRow {
  id: string;
  experiment_id: number;
  resource_pool: string;
  slots: number;
  priority: number;
  weight: number;
  max_slots: number | null;
  seq: number;
  state: string;
  placement: Placement[] | null;
  preempt_requested: boolean;
}

/** Builds the scheduler's input from connected agents and live allocation rows. */
export function planInputFrom(
  agents: Iterable<{ id: string; pool: string; devices: Array<{ id: number }> }>,
  rows: AllocationRow[],
  opts: { policy: PlanInput['policy']; fit: PlanInput['fit']; preemption: boolean },
): PlanInput {
  return {
    agents: [...agents].map((a) => ({ id: a.id, pool: a.pool, slots: a.devices.map((d) => d.id) })),
    allocations: rows.map((a) => ({
      id: a.id,
      groupId: a.experiment_id,
      pool: a.resource_pool,
      slots: a.slots,
      priority: a.priority,
      weight: a.weight,
      maxSlots: a.max_slots,
      order: Number(a.seq),
      state: a.state === 'PENDING' ? 'pending' : 'running',
      ...(a.placement ? { placement: a.placement } : {}),
      preempting: a.preempt_requested,
    })),
    ...opts,
  };
}

export function toSnapshot(input: PlanInput): Snapshot {
  const groups = new Map<string, { id: string; weight: number; maxSlots?: number }>();
  for (const a of input.allocations) {
    const id = String(a.groupId);
    if (!groups.has(id)) groups.set(id, { id, weight: a.weight, ...(a.maxSlots ? { maxSlots: a.maxSlots } : {}) });
  }
  return {
    agents: input.agents.map((a) => ({ ...a, enabled: true })),
    allocations: input.allocations.map((a) => ({
      id: a.id,
      groupId: String(a.groupId),
      pool: a.pool,
      slots: a.slots,
      priority: a.priority,
      weight: a.weight,
      order: a.order,
      state: a.state,
      ...(a.placement ? { placement: a.placement } : {}),
      preempting: a.preempting,
    })),
    groups: [...groups.values()],
    options: { policy: input.policy, fit: input.fit, preemption: input.preemption },
  };
}

export function planScheduling(input: PlanInput): ScheduleResult {
  return schedule(toSnapshot(input));
}

export function planQueue(input: PlanInput): QueueEntry[] {
  return queueOrder(toSnapshot(input));
}
