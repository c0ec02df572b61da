// The provisioner contract. `decide(snapshot, config, now) -> { launch, terminate, reasons }` is pure: no I/O, no
// clock but `now`, no randomness. The reconciler (reconciler.ts) builds the snapshot from the instance rows, the
// cloud's list and the live allocations, stores the decision, then asks a provider to carry it out.

/** Where an instance is in its life. Rows move forward only (see instanceTransitions in db/instances.ts). */
export type InstanceState =
  /** A row was written (with its idempotency key); the cloud has not been asked yet, or its answer was lost. */
  | 'requested'
  /** The cloud accepted the launch; its agent has not registered yet. */
  | 'launching'
  /** Its agent registered and holds work (a running or assigned allocation). */
  | 'running'
  /** Its agent registered and holds no work. */
  | 'idle'
  /** The cloud was asked to terminate it. */
  | 'terminating'
  | 'terminated';

export const INSTANCE_STATES: readonly InstanceState[] = ['requested', 'launching', 'running', 'idle', 'terminating', 'terminated'];

/** A pool's provider section (`resource_pools[i].provider`), parsed and defaulted; times in seconds. */
export interface ProviderConfig {
  type: 'aws' | 'gcp' | 'local';
  min_instances: number;
  max_instances: number;
  /** An instance with no work for this long is terminated (never below min_instances). */
  idle_timeout: number;
  /** An instance whose agent has not registered this long after its launch is terminated as a failure. */
  max_starting_period: number;
  slots_per_instance: number;
  instance_type: string;
  /** Price of one instance-hour, for forecasts and the cluster view. */
  hourly_cost?: number;
  /** First wait after a failed launch; doubles with each failure in a row, up to max_launch_backoff. */
  launch_backoff: number;
  max_launch_backoff: number;
  /** Seconds between reconciler passes. */
  reconcile_interval: number;
  /** Provider-specific fields (aws: region, ami/launch_template, ...; local: agent_args ...), checked by the provider. */
  fields: Record<string, unknown>;
}

/** One non-terminated instance as decide sees it. Times are ms since the epoch. */
export interface InstanceView {
  id: string;
  state: Exclude<InstanceState, 'terminated'>;
  /** When the row was written (the launch was decided). */
  createdAt: number;
  /** Its agent is connected now. */
  connected: boolean;
  /** Since when its agent has been away (registered instances only). */
  disconnectedSince?: number;
  /** Slots free on it (registered instances); a starting one will have slots_per_instance. */
  freeSlots: number;
  /** It holds a running or assigned allocation: never terminated. */
  busy: boolean;
  /** Since when it has held no work (or since it registered); undefined while busy. */
  idleSince?: number;
}

/** A pending gang of the pool: it must be placed whole. */
export interface PendingGang {
  id: string;
  groupId: string;
  slots: number;
}

export interface GroupLimit {
  id: string;
  /** `resources.max_slots`: the group's gangs may hold at most this many slots in all. */
  maxSlots?: number;
  /** Slots its allocations hold now. */
  heldSlots: number;
}

export interface ProvisionerSnapshot {
  pool: string;
  /** Whether the cloud's list of this pool's instances succeeded and was complete. When false decide does nothing. */
  listOk: boolean;
  instances: InstanceView[];
  /** Pending gangs in scheduling order. */
  pending: PendingGang[];
  groups: GroupLimit[];
  /** Free slots on agents of the pool that no provider manages (fixed machines), largest first or any order. */
  staticFreeSlots: number[];
  /** Failed launches in a row (reset by a launch that registers), and when the last one failed. */
  launchFailures: { count: number; lastAt: number };
}

export type TerminateReason = 'idle' | 'start-timeout' | 'disconnected' | 'excess';

export interface Decision {
  /** Instances to launch now. */
  launch: number;
  terminate: Array<{ id: string; reason: TerminateReason }>;
  /** Why, in words, for `hone resource-pool list` and the log. Never empty. */
  reasons: string[];
  /** Instances the pending gangs need beyond those starting (before caps). */
  wanted: number;
}
