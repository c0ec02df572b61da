// The scheduler contract. `schedule(snapshot) -> { assign, preempt, waiting }` is pure and deterministic:
// no I/O, no clock, no randomness; the same snapshot always gives the same result. The master builds the snapshot
// from its database, persists the result in one transaction, then tells agents to start or preempt tasks.

/** One agent (GPU server or Kubernetes node) as the scheduler sees it. */
export interface Agent {
  id: string;
  /** Resource pool the agent belongs to. Allocations only use agents of their own pool. */
  pool: string;
  /** Device ids of the agent's slots (e.g. GPU indexes `[0..7]`). Their count is the agent's size. */
  slots: number[];
  /** A disabled agent gets no new work; what already runs on it keeps running and keeps its slots. */
  enabled: boolean;
}

/** Where (part of) a gang runs: these devices of this agent. */
export interface Placement {
  agentId: string;
  devices: number[];
}

export type AllocationState = 'pending' | 'running';

/** A gang of slots that must be granted all at once: one trial, command, notebook, ... */
export interface Allocation {
  id: string;
  /** The experiment (or other owner) the allocation belongs to; fair share and max_slots work per group. */
  groupId: string;
  /** Resource pool; only agents of this pool are considered. */
  pool: string;
  /** Gang size. 0 is allowed (a task that needs an agent but no device). */
  slots: number;
  /** 1-99, lower number = more important. Default 42 (Determined's default). */
  priority?: number;
  /** Fair-share weight when the group is unknown; the group's weight wins otherwise. Default 1. */
  weight?: number;
  /** May be preempted to make room for other work. Default true. */
  preemptible?: boolean;
  /** Submission order; ties between equal priorities go to the lower number (earlier submission). */
  order: number;
  state: AllocationState;
  /** Where a running allocation runs. Ignored for pending allocations. */
  placement?: Placement[];
  /** Running allocation that was already asked to preempt and has not exited yet. Its devices count as about to
   * become free: the first waiting gang that can use them claims them, and it is never chosen as a victim again. */
  preempting?: boolean;
}

/** A group of allocations (an experiment). */
export interface Group {
  id: string;
  /** Fair-share weight (Determined's `resources.weight`). Default 1 when the group is missing. */
  weight: number;
  /** At most this many slots across the group's running and newly assigned allocations (`resources.max_slots`). */
  maxSlots?: number;
}

export interface ScheduleOptions {
  /** `priority`: strict priority then submission order, with backfill.
   * `fair_share`: slots shared between groups in proportion to weight, capped by demand (water-filling). */
  policy: 'priority' | 'fair_share';
  /** `best`: pack onto the agent with the fewest free slots that still fits. `worst`: spread onto the emptiest. */
  fit: 'best' | 'worst';
  /** Whether running preemptible allocations may be preempted for more important (priority) or under-share
   * (fair share) work. */
  preemption: boolean;
  /** How many blocked gangs per pool may hold back free slots so that they are not starved by smaller, lower-ranked
   * work (which still backfills all other free slots). Default 1: the head of the line, as in EASY backfilling.
   * 0 turns reservations off (best utilisation, but a large gang may wait indefinitely behind small ones);
   * larger values protect more gangs at the cost of idle reserved slots. Slots being freed by preemption are always
   * held for the gang they are freed for, whatever this says. */
  reservationDepth?: number;
}

/** Everything one scheduling pass looks at. */
export interface Snapshot {
  agents: Agent[];
  /** Pending and running allocations (finished ones are left out by the caller). */
  allocations: Allocation[];
  groups: Group[];
  options: ScheduleOptions;
}

/** Start this pending allocation on these devices. A gang is always complete: all its slots, or no assignment. */
export interface Assignment {
  allocationId: string;
  placement: Placement[];
}

/** A pending allocation that stays pending, with a short human reason. */
export interface WaitingAllocation {
  allocationId: string;
  reason: string;
}

export interface ScheduleResult {
  /** New placements, in the order the pass made them. */
  assign: Assignment[];
  /** Running allocations to preempt gracefully. Their slots are not reused in the same pass: they are claimed by
   * the gang they make room for, which gets them in a later pass once the victims have exited. */
  preempt: string[];
  /** Every pending allocation not in `assign`. */
  waiting: WaitingAllocation[];
}

/** A refusal is data, not an exception. */
export type FitCheck = { fits: true } | { fits: false; reason: string };

/** One row of `hone job list`. */
export interface QueueEntry {
  /** 1-based position in scheduling order. */
  position: number;
  allocationId: string;
  groupId: string;
  pool: string;
  state: AllocationState;
  priority: number;
  slots: number;
  /** `running`, `running (being preempted)`, `scheduled`, or why it waits. */
  reason: string;
}

export const DEFAULT_PRIORITY = 42;
export const DEFAULT_WEIGHT = 1;
export const DEFAULT_RESERVATION_DEPTH = 1;
