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
  return new SnapshotBuilder().build(agents, allocations, options);
}

/**
 * `buildSnapshot` for a caller that builds one snapshot after another (a resource manager's pass): a row given
 * again as the same object (rm/liveAllocations.ts keeps the rows that did not change) gets the same allocation
 * object as last time, which the incremental scheduler takes as unchanged without comparing it. Rows are
 * matched in submission order (`seq`), as both the kept rows and a database read list them.
 */
export class SnapshotBuilder {
  private lastRows: LiveAllocation[] = [];
  private lastOut: Allocation[] = [];

  build(agents: Agent[], allocations: LiveAllocation[], options: ScheduleOptions): Snapshot {
    const groups = new Map<number, Group>();
    const out = new Array<Allocation>(allocations.length);
    const lastRows = this.lastRows;
    let j = 0;
    for (let i = 0; i < allocations.length; i++) {
      const a = allocations[i];
      let group = groups.get(a.experimentId);
      if (!group) {
        const groupId = groupIdOf(a.experimentId);
        groups.set(a.experimentId, (group = a.maxSlots ? { id: groupId, weight: a.weight, maxSlots: a.maxSlots } : { id: groupId, weight: a.weight }));
      }
      while (j < lastRows.length && lastRows[j].seq < a.seq) j++;
      if (lastRows[j] === a) {
        out[i] = this.lastOut[j++];
        continue;
      }
      out[i] = {
        id: a.id,
        groupId: group.id,
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
    this.lastRows = allocations;
    this.lastOut = out;
    return { agents, allocations: out, groups: [...groups.values()], options };
  }
}
