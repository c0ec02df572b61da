// Builds the pure scheduler's input from the agents a resource manager can use and the live allocation rows.
// One builder for the scheduling pass and the job list, so `hone job list` explains the pass that really runs.
import type { LiveAllocation } from '../db/allocations';
import type { Agent, Group, ScheduleOptions, Snapshot } from '../scheduler/types';

export function buildSnapshot(agents: Agent[], allocations: LiveAllocation[], options: ScheduleOptions): Snapshot {
  const groups = new Map<string, Group>();
  for (const a of allocations) {
    const id = String(a.experimentId);
    if (!groups.has(id)) groups.set(id, { id, weight: a.weight, ...(a.maxSlots ? { maxSlots: a.maxSlots } : {}) });
  }
  return {
    agents,
    allocations: allocations.map((a) => ({
      id: a.id,
      groupId: String(a.experimentId),
      pool: a.pool,
      slots: a.slots,
      priority: a.priority,
      weight: a.weight,
      order: a.seq,
      state: a.state === 'PENDING' ? 'pending' : 'running',
      ...(a.placement ? { placement: a.placement } : {}),
      preempting: a.preemptRequested,
    })),
    groups: [...groups.values()],
    options,
  };
}
