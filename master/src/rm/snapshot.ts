// Builds the pure scheduler's input from the agents a resource manager can use and the live allocation rows.
// One builder for the scheduling pass and the job list, so `hone job list` explains the pass that really runs.
// It runs every pass over every live allocation, so it stays cheap: one object of one shape per allocation, and
// the same group id string for an experiment from pass to pass (the incremental scheduler compares them).
import type { LiveAllocation } from '../db/allocations';
import type { Agent, Allocation, Group, ScheduleOptions, Snapshot } from '../scheduler/types';

/** Group id strings by experiment id, kept between passes (bounded: cleared when it grows past the limit). */
const groupIds = new Map<number, string>();
const GROUP_IDS_MAX = 1 << 16;

function groupIdOf(experimentId: number): string {
  let id = groupIds.get(experimentId);
  if (id === undefined) {
    if (groupIds.size >= GROUP_IDS_MAX) groupIds.clear();
    groupIds.set(experimentId, (id = String(experimentId)));
  }
  return id;
}

export function buildSnapshot(agents: Agent[], allocations: LiveAllocation[], options: ScheduleOptions): Snapshot {
  const groups = new Map<number, Group>();
  const out = new Array<Allocation>(allocations.length);
  for (let i = 0; i < allocations.length; i++) {
    const a = allocations[i];
    const groupId = groupIdOf(a.experimentId);
    if (!groups.has(a.experimentId)) {
      groups.set(a.experimentId, a.maxSlots ? { id: groupId, weight: a.weight, maxSlots: a.maxSlots } : { id: groupId, weight: a.weight });
    }
    out[i] = {
      id: a.id,
      groupId,
      pool: a.pool,
      slots: a.slots,
      priority: a.priority,
      weight: a.weight,
      order: a.seq,
      state: a.state === 'PENDING' ? 'pending' : 'running',
      placement: a.placement ?? undefined,
      preempting: a.preemptRequested,
    };
  }
  return { agents, allocations: out, groups: [...groups.values()], options };
}
