// `queueOrder(snapshot)`: what `hone job list` shows. Every pending and running allocation in scheduling order,
// each with why it is where it is, computed from the same pass the scheduler would run.
import { compareAllocations, priorityOf, runPass } from './schedule';
import type { Allocation, QueueEntry, Snapshot } from './types';

/**
 * Running allocations first (in priority order), then pending ones in the order the pass considered them:
 * priority then submission order under the priority policy; under fair share, the groups below their share first.
 */
export function queueOrder(snapshot: Snapshot): QueueEntry[] {
  const { pass, result } = runPass(snapshot);
  const byId = new Map(snapshot.allocations.map((a) => [a.id, a]));
  const preempted = new Set(result.preempt);
  const scheduled = new Set(result.assign.map((a) => a.allocationId));
  const waiting = new Map(result.waiting.map((w) => [w.allocationId, w.reason]));
  const out: QueueEntry[] = [];
  const push = (a: Allocation, reason: string) =>
    out.push({
      position: out.length + 1,
      allocationId: a.id,
      groupId: a.groupId,
      pool: a.pool,
      state: a.state,
      priority: priorityOf(a),
      slots: a.slots,
      reason,
    });
  const running = snapshot.allocations.filter((a) => a.state === 'running').sort(compareAllocations);
  for (const a of running) push(a, a.preempting || preempted.has(a.id) ? 'running (being preempted)' : 'running');
  for (const id of pass.considered) {
    const a = byId.get(id)!;
    push(a, scheduled.has(id) ? 'scheduled' : (waiting.get(id) ?? 'waiting'));
  }
  return out;
}
