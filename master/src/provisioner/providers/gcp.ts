// The `gcp` provider: Compute Engine through @google-cloud/compute (it installs and loads on Node 20). Instances
// are named after their hone id (names are unique per zone, so a repeated insert for one launch fails with
// "already exists", which is taken as success) and inserted with the launch key as the requestId; labels name the
// master, pool, instance and key. Lists by label filter, every page (autoPaginate); a failed page fails the list.
import type { ProviderConfig } from '../types';
import { LaunchError, TAGS, type CloudInstance, type LaunchRequest, type Provider } from './provider';
import { agentUserData } from './userData';

/** What the provider uses of InstancesClient (tests pass a stand-in). */
export interface GceInstances {
  list(req: { project: string; zone: string; filter: string; autoPaginate?: boolean }): Promise<[Array<{ name?: string | null; status?: string | null; labels?: Record<string, string> | null; id?: string | number | null }>, ...unknown[]]>;
  insert(req: { project: string; zone: string; requestId: string; instanceResource: Record<string, unknown> }): Promise<unknown>;
  delete(req: { project: string; zone: string; instance: string; requestId?: string }): Promise<unknown>;
}

export interface GcpProviderOptions {
  pool: string;
  masterId: string;
  config: ProviderConfig;
  client?: GceInstances;
}

/** A GCE name or label value: lowercase letters, digits and dashes, at most 63, starting with a letter. */
export const gceName = (s: string): string => `h${s.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');

export class GcpProvider implements Provider {
  readonly type = 'gcp';
  private client: GceInstances | null;
  constructor(private readonly opts: GcpProviderOptions) {
    this.client = opts.client ?? null;
  }

  private async gce(): Promise<GceInstances> {
    if (!this.client) {
      const { InstancesClient } = await import('@google-cloud/compute');
      this.client = new InstancesClient() as unknown as GceInstances;
    }
    return this.client;
  }

  private get where() {
    const f = this.opts.config.fields;
    return { project: f.project as string, zone: f.zone as string };
  }

  async list(): Promise<CloudInstance[]> {
    const filter = `labels.${TAGS.master} = "${gceName(this.opts.masterId)}" AND labels.${TAGS.pool} = "${gceName(this.opts.pool)}"`;
    const [items] = await (await this.gce()).list({ ...this.where, filter, autoPaginate: true });
    const out: CloudInstance[] = [];
    for (const i of items) {
      const key = i.labels?.[TAGS.key];
      const id = i.labels?.[TAGS.instance];
      if (!key || !id || !i.name) continue;
      const s = i.status ?? 'PROVISIONING';
      out.push({
        id,
        key: key.replace(/^h/, ''),
        cloudId: i.name,
        state: ['PROVISIONING', 'STAGING'].includes(s) ? 'pending' : s === 'RUNNING' ? 'running' : s === 'TERMINATED' ? 'terminated' : 'stopping',
      });
    }
    return out;
  }

  instanceResource(req: LaunchRequest): Record<string, unknown> {
    const f = this.opts.config.fields;
    const machineType = (f.machine_type as string | undefined) ?? this.opts.config.instance_type;
    return {
      name: gceName(req.id),
      machineType: `zones/${this.where.zone}/machineTypes/${machineType}`,
      labels: {
        ...Object.fromEntries(Object.entries((f.labels as Record<string, string> | undefined) ?? {}).map(([k, v]) => [k, String(v)])),
        [TAGS.master]: gceName(req.masterId),
        [TAGS.pool]: gceName(req.pool),
        [TAGS.instance]: gceName(req.id),
        [TAGS.key]: gceName(req.key),
      },
      disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: f.source_image as string } }],
      networkInterfaces: [{ ...(f.network ? { network: f.network } : {}), ...(f.subnetwork ? { subnetwork: f.subnetwork } : {}), accessConfigs: [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] }],
      ...(f.service_account ? { serviceAccounts: [{ email: f.service_account, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }] } : {}),
      scheduling: f.preemptible ? { preemptible: true, automaticRestart: false, onHostMaintenance: 'TERMINATE' } : { automaticRestart: true },
      metadata: { items: [{ key: 'startup-script', value: agentUserData(req, f.agent_install_url ? { installUrl: f.agent_install_url as string } : {}) }] },
    };
  }

  async launch(req: LaunchRequest): Promise<{ cloudId: string }> {
    const name = gceName(req.id);
    try {
      await (await this.gce()).insert({ ...this.where, requestId: req.key, instanceResource: this.instanceResource(req) });
      return { cloudId: name };
    } catch (e) {
      const err = e as { code?: number; message?: string };
      if (err.code === 409 || /already exists/i.test(err.message ?? '')) return { cloudId: name };
      const kind = /ZONE_RESOURCE_POOL_EXHAUSTED|QUOTA_EXCEEDED|RESOURCE_EXHAUSTED|stockout/i.test(err.message ?? '') ? 'capacity' : err.code === 429 ? 'throttled' : err.code === 400 || err.code === 403 ? 'config' : 'other';
      throw new LaunchError(err.message ?? String(e), kind);
    }
  }

  async terminate(instances: Array<{ id: string; cloudId: string | null; key: string }>): Promise<void> {
    const gce = await this.gce();
    for (const i of instances) {
      try {
        await gce.delete({ ...this.where, instance: i.cloudId ?? gceName(i.id) });
      } catch (e) {
        if ((e as { code?: number }).code !== 404) throw e;
      }
    }
  }
}
