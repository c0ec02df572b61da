// Helpers for the scheduler's tests and benchmark: build snapshots, apply a pass's result as the master would,
// and check the invariants every result must satisfy.
import { priorityOf } from './schedule';
import type { Agent, Allocation, ScheduleOptions, ScheduleResult, Snapshot } from './types';

export function makeAgents(count: number, size: number, pool = 'gpu', prefix = 'a'): Agent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${String(i).padStart(4, '0')}`,
    pool,
    slots: Array.from({ length: size }, (_, d) => d),
    enabled: true,
  }));
}

let seq = 0;
export function job(id: string, slots: number, extra: Partial<Allocation> = {}): Allocation {
  return { id, groupId: extra.groupId ?? `exp-${id}`, pool: 'gpu', slots, order: seq++, state: 'pending', ...extra };
}

export function snapshot(
  agents: Agent[],
  allocations: Allocation[],
  options: Partial<ScheduleOptions> = {},
  groups: Snapshot['groups'] = [],
): Snapshot {
  return { agents, allocations, groups, options: { policy: 'priority', fit: 'best', preemption: false, ...options } };
}

/**
 * The snapshot after the master applied `result`: assigned allocations run where they were placed; preempted ones
 * either exit at once (back to pending, `exit: true`) or keep running marked `preempting`.
 */
export function apply(s: Snapshot, result: ScheduleResult, exit = true): Snapshot {
  const placed = new Map(result.assign.map((a) => [a.allocationId, a.placement]));
  const preempted = new Set(result.preempt);
  const allocations = s.allocations.map((a): Allocation => {
    const p = placed.get(a.id);
    if (p) return { ...a, state: 'running', placement: p, preempting: false };
    if (preempted.has(a.id)) {
      return exit ? { ...a, state: 'pending', placement: undefined, preempting: false } : { ...a, preempting: true };
    }
    return a;
  });
  return { ...s, allocations };
}

/** Remove finished allocations (their slots become free). */
export function finish(s: Snapshot, ids: string[]): Snapshot {
  const gone = new Set(ids);
  return { ...s, allocations: s.allocations.filter((a) => !gone.has(a.id)) };
}

/** Violations of the invariants every pass must keep, as messages (empty when all hold). */
export function violations(s: Snapshot, r: ScheduleResult): string[] {
  const errors: string[] = [];
  const agents = new Map(s.agents.map((a) => [a.id, a]));
  const allocs = new Map(s.allocations.map((a) => [a.id, a]));
  const used = new Set<string>();
  const largest = new Map<string, number>();
  for (const a of s.agents) largest.set(a.pool, Math.max(largest.get(a.pool) ?? 0, a.slots.length));
  for (const a of s.allocations) {
    if (a.state !== 'running') continue;
    for (const p of a.placement ?? []) for (const d of p.devices) used.add(`${p.agentId}/${d}`);
  }
  const seen = new Set<string>();
  const held = new Map<string, number>();
  for (const a of s.allocations) if (a.state === 'running') held.set(a.groupId, (held.get(a.groupId) ?? 0) + a.slots);
  for (const as of r.assign) {
    const a = allocs.get(as.allocationId);
    if (!a || a.state !== 'pending') errors.push(`assigned ${as.allocationId} is not pending`);
    if (seen.has(as.allocationId)) errors.push(`assigned ${as.allocationId} twice`);
    seen.add(as.allocationId);
    if (!a) continue;
    held.set(a.groupId, (held.get(a.groupId) ?? 0) + a.slots);
    let total = 0;
    const S = largest.get(a.pool) ?? 0;
    for (const p of as.placement) {
      const ag = agents.get(p.agentId);
      if (!ag) {
        errors.push(`${a.id} placed on unknown agent ${p.agentId}`);
        continue;
      }
      if (ag.pool !== a.pool) errors.push(`${a.id} of pool ${a.pool} placed on ${ag.id} of pool ${ag.pool}`);
      if (!ag.enabled) errors.push(`${a.id} placed on disabled agent ${ag.id}`);
      if (a.slots > S && p.devices.length !== ag.slots.length) errors.push(`${a.id} takes part of agent ${ag.id}`);
      for (const d of p.devices) {
        if (!ag.slots.includes(d)) errors.push(`${a.id} placed on missing device ${ag.id}/${d}`);
        const key = `${ag.id}/${d}`;
        if (used.has(key)) errors.push(`device ${key} assigned twice (${a.id})`);
        used.add(key);
      }
      total += p.devices.length;
    }
    if (total !== a.slots) errors.push(`${a.id} wants ${a.slots} slots, got ${total} (partial gang)`);
    if (a.slots > 0 && a.slots <= S && as.placement.length !== 1) errors.push(`${a.id} spread over agents`);
  }
  for (const g of s.groups) {
    if (g.maxSlots === undefined) continue;
    const before = s.allocations.filter((a) => a.groupId === g.id && a.state === 'running').reduce((n, a) => n + a.slots, 0);
    if ((held.get(g.id) ?? 0) > Math.max(g.maxSlots, before)) errors.push(`group ${g.id} above max_slots`);
  }
  const waiting = new Set<string>();
  for (const w of r.waiting) {
    if (waiting.has(w.allocationId) || seen.has(w.allocationId)) errors.push(`${w.allocationId} listed twice`);
    waiting.add(w.allocationId);
    if (allocs.get(w.allocationId)?.state !== 'pending') errors.push(`waiting ${w.allocationId} is not pending`);
    if (!w.reason) errors.push(`${w.allocationId} waits without a reason`);
  }
  for (const a of s.allocations) {
    if (a.state === 'pending' && !seen.has(a.id) && !waiting.has(a.id)) errors.push(`${a.id} neither assigned nor waiting`);
  }
  const pre = new Set<string>();
  for (const id of r.preempt) {
    const a = allocs.get(id);
    if (pre.has(id)) errors.push(`${id} preempted twice`);
    pre.add(id);
    if (!a || a.state !== 'running') errors.push(`preempted ${id} is not running`);
    else if (a.preemptible === false) errors.push(`preempted ${id} is not preemptible`);
    else if (a.preempting) errors.push(`preempted ${id} was already preempting`);
  }
  return errors;
}

export const rank = (a: Allocation, b: Allocation) => priorityOf(a) - priorityOf(b) || a.order - b.order;
