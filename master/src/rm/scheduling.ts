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
