// The provisioner service: a reconciler per resource pool that has a provider (see reconciler.ts), built from the
// master config. The composition root (server.ts) starts it once the master listens.
import path from 'node:path';
import type { ProvisionedPoolInfo } from '@hone/protocol';
import type { Database } from '../db';
import { listInstances, listRecentlyTerminated, masterId as loadMasterId } from '../db/instances';
import type { ResourcePoolConfig } from '../config/masterConfig';
import { parseProviderConfig } from './config';
import { PoolReconciler } from './reconciler';
import type { AgentView } from './snapshot';
import type { Provider } from './providers/provider';
import { LocalProvider } from './providers/local';
import type { ProviderConfig } from './types';
import { shapeRefusal } from '../scheduler/fit';
import type { FitCheck } from '../scheduler/types';

export { parseProviderConfig, ProviderConfigError } from './config';
export type { PoolStatus } from './reconciler';

export interface ProvisionerDeps {
  db: Database;
  dataDir: string;
  masterUrl: () => string;
  agentToken?: string;
  agents: () => AgentView[];
  onChange: () => void;
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
}

/** A pool's instances and what the provisioner last said about it (`GET /provisioner/pools`). */
/** A provisioned pool as GET /provisioner/pools answers. */
export type ProvisionedPool = ProvisionedPoolInfo;

/** Checks every pool's provider section at start-up; errors name `resource_pools[i].provider.<field>`. */
export function checkProviderConfigs(pools: ResourcePoolConfig[]): Map<string, ProviderConfig> {
  const out = new Map<string, ProviderConfig>();
  for (const [i, p] of pools.entries()) {
    if (!p.provider) continue;
    const c = parseProviderConfig(p.provider, `resource_pools[${i}].provider`);
    checkProviderFields(c, `resource_pools[${i}].provider`);
    out.set(p.name, c);
  }
  return out;
}

function checkProviderFields(c: ProviderConfig, at: string): void {
  const f = c.fields;
  const str = (k: string) => {
    if (f[k] !== undefined && (typeof f[k] !== 'string' || !f[k])) throw new Error(`${at}.${k}: must be a non-empty string`);
  };
  for (const k of ['region', 'endpoint', 'image_id', 'subnet_id', 'key_name', 'iam_instance_profile', 'agent_install_url', 'master_url', 'project', 'zone', 'machine_type', 'source_image', 'network', 'subnetwork', 'service_account', 'work_dir', 'spot_max_price', 'user_data_extra']) str(k);
  if (c.type === 'aws') {
    if (!f.region) throw new Error(`${at}.region: is required for provider type aws`);
    if (!f.image_id && !f.launch_template) throw new Error(`${at}.image_id: an AMI (image_id) or a launch_template is required for provider type aws`);
    if (f.launch_template !== undefined) {
      const lt = f.launch_template as Record<string, unknown>;
      if (!lt || typeof lt !== 'object' || (typeof lt.id !== 'string' && typeof lt.name !== 'string')) throw new Error(`${at}.launch_template: must be {id} or {name}, with an optional version`);
    }
    if (f.security_group_ids !== undefined && (!Array.isArray(f.security_group_ids) || f.security_group_ids.some((s) => typeof s !== 'string'))) throw new Error(`${at}.security_group_ids: must be a list of strings`);
    if (f.spot !== undefined && typeof f.spot !== 'boolean') throw new Error(`${at}.spot: must be true or false`);
  }
  if (c.type === 'gcp') {
    for (const k of ['project', 'zone', 'source_image']) if (!f[k]) throw new Error(`${at}.${k}: is required for provider type gcp`);
    if (f.preemptible !== undefined && typeof f.preemptible !== 'boolean') throw new Error(`${at}.preemptible: must be true or false`);
  }
  if (c.type === 'local' && f.agent_args !== undefined && (!Array.isArray(f.agent_args) || f.agent_args.some((s) => typeof s !== 'string'))) {
    throw new Error(`${at}.agent_args: must be a list of strings`);
  }
  if (f.tags !== undefined && (typeof f.tags !== 'object' || f.tags === null || Array.isArray(f.tags))) throw new Error(`${at}.tags: must be a mapping of names to values`);
}

export class Provisioner {
  private readonly reconcilers = new Map<string, PoolReconciler>();
  private constructor(
    private readonly deps: ProvisionerDeps,
    private readonly configs: Map<string, ProviderConfig>,
  ) {}

  /** Builds a reconciler (and its provider) per pool with a provider section. */
  static async create(deps: ProvisionerDeps, configs: Map<string, ProviderConfig>, providerFor?: (pool: string, c: ProviderConfig, masterId: string) => Promise<Provider>): Promise<Provisioner> {
    const p = new Provisioner(deps, configs);
    if (!configs.size) return p;
    const masterId = await loadMasterId(deps.db);
    for (const [pool, config] of configs) {
      const provider = providerFor ? await providerFor(pool, config, masterId) : await createProvider(pool, config, masterId, deps.dataDir);
      p.reconcilers.set(
        pool,
        new PoolReconciler({
          db: deps.db,
          pool,
          config,
          provider,
          masterId,
          masterUrl: deps.masterUrl,
          ...(deps.agentToken ? { agentToken: deps.agentToken } : {}),
          agents: deps.agents,
          onChange: deps.onChange,
          log: deps.log,
        }),
      );
    }
    return p;
  }

  get pools(): string[] {
    return [...this.reconcilers.keys()];
  }

  reconciler(pool: string): PoolReconciler | undefined {
    return this.reconcilers.get(pool);
  }

  start(): void {
    for (const r of this.reconcilers.values()) r.start();
  }

  /** Something changed (new pending work, an agent came or went): pass soon. */
  kick(): void {
    for (const r of this.reconcilers.values()) r.kick();
  }

  /** Stops the passes. A master that stops cleanly takes its local-provider agents down with it (a killed one cannot). */
  async stop(): Promise<void> {
    await Promise.all([...this.reconcilers.values()].map((r) => r.stop()));
    for (const r of this.reconcilers.values()) {
      if (r.providerType === 'local') await r.terminateAll('master-shutdown').catch((e) => this.deps.log.warn({ err: (e as Error).message }, 'could not stop local instances'));
    }
  }

  /** Whether a gang of `slots` could ever run in a provisioned pool: on instances of its size, at most max of them. */
  canEverFit(pool: string, slots: number): FitCheck | null {
    const c = this.configs.get(pool);
    if (!c) return null;
    const reason = shapeRefusal({ name: pool, agents: c.max_instances, largest: c.slots_per_instance, largestCount: c.max_instances }, slots);
    return reason === undefined ? { fits: true } : { fits: false, reason: `${reason} (at most max_instances: ${c.max_instances} instances of ${c.slots_per_instance} slots)` };
  }

  async describe(): Promise<ProvisionedPool[]> {
    const out: ProvisionedPool[] = [];
    for (const [pool, r] of this.reconcilers) {
      const rows = [...(await listInstances(this.deps.db, pool)), ...(await listRecentlyTerminated(this.deps.db, pool, 10))];
      const byState: Record<string, number> = { requested: 0, launching: 0, running: 0, idle: 0, terminating: 0 };
      for (const i of rows) if (i.state !== 'terminated') byState[i.state] = (byState[i.state] ?? 0) + 1;
      out.push({
        ...r.status(),
        instancesByState: byState,
        instances: rows.map((i) => ({
          id: i.id,
          state: i.state,
          cloudId: i.cloudId,
          instanceType: i.instanceType,
          slots: i.slots,
          reason: i.reason,
          createdAt: i.createdAt.toISOString(),
          registeredAt: i.registeredAt?.toISOString() ?? null,
          idleSince: i.idleSince?.toISOString() ?? null,
          terminatedAt: i.terminatedAt?.toISOString() ?? null,
        })),
      });
    }
    return out;
  }
}

/** The provider of one pool. Cloud SDKs load only for pools that use them. */
export async function createProvider(pool: string, config: ProviderConfig, masterId: string, dataDir: string): Promise<Provider> {
  switch (config.type) {
    case 'local':
      return new LocalProvider({
        dir: path.resolve((config.fields.work_dir as string | undefined) ?? path.join(dataDir, 'local-instances', pool)),
        pool,
        masterId,
        agentArgs: (config.fields.agent_args as string[] | undefined) ?? [],
      });
    case 'aws': {
      const { AwsProvider } = await import('./providers/aws');
      return new AwsProvider({ pool, masterId, config });
    }
    case 'gcp': {
      const { GcpProvider } = await import('./providers/gcp');
      return new GcpProvider({ pool, masterId, config });
    }
  }
}
