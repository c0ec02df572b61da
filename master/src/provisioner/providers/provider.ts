// The provider seam: what a cloud (or this machine) must do for the reconciler. Providers only execute; every
// decision is decide()'s. Contract:
// - `list()` answers every instance tagged for this master and pool, or THROWS: a failed, throttled or partial
//   answer must never come back as a short list (it would read as "those instances are gone").
// - `launch()` is idempotent by `key`: asking twice with one key starts one instance (EC2 ClientToken, a GCE
//   requestId, a file per key for local processes), so the reconciler may repeat a launch whose answer was lost.
// - `terminate()` is idempotent: terminating an instance that is already gone succeeds.

/** How the cloud sees one instance. */
export interface CloudInstance {
  /** The hone instance id (the agent id), from the instance's tags. */
  id: string;
  /** The launch's idempotency key, from the tags. */
  key: string;
  cloudId: string;
  state: 'pending' | 'running' | 'stopping' | 'terminated';
  /** The cloud took it back (spot interruption, preemption). */
  interrupted?: boolean;
}

export interface LaunchRequest {
  /** The instance id; its agent joins with this agent id. */
  id: string;
  key: string;
  pool: string;
  masterId: string;
  slots: number;
  instanceType: string;
  /** The URL the agent reaches the master at. */
  masterUrl: string;
  /** The cluster agent token the agent joins with (once; then it holds its own credential). */
  agentToken?: string;
}

export class LaunchError extends Error {
  constructor(
    message: string,
    /** `capacity`: the cloud has no such instance now (retry later); `config`: it will never work as configured. */
    readonly kind: 'capacity' | 'throttled' | 'config' | 'other',
  ) {
    super(message);
  }
}

export interface Provider {
  readonly type: string;
  list(): Promise<CloudInstance[]>;
  launch(req: LaunchRequest): Promise<{ cloudId: string }>;
  terminate(instances: Array<{ id: string; cloudId: string | null; key: string }>): Promise<void>;
}

/** Tag names every launch carries (cloud tags, GCE labels, local instance files). */
export const TAGS = { master: 'hone-master', pool: 'hone-pool', instance: 'hone-instance', key: 'hone-launch-key' } as const;
