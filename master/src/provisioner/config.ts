// The provider section of a resource pool in the master config (`resource_pools[i].provider`), checked once at
// start-up. Errors name the field: `resource_pools[2].provider.max_instances: must be ...`.
import type { ProviderConfig } from './types';

export class ProviderConfigError extends Error {}

const COMMON = [
  'type',
  'min_instances',
  'max_instances',
  'idle_timeout',
  'max_starting_period',
  'slots_per_instance',
  'instance_type',
  'hourly_cost',
  'launch_backoff',
  'max_launch_backoff',
  'reconcile_interval',
];

/** Fields each provider type takes besides the common ones. */
export const PROVIDER_FIELDS: Record<ProviderConfig['type'], string[]> = {
  aws: ['region', 'endpoint', 'image_id', 'launch_template', 'subnet_id', 'security_group_ids', 'key_name', 'iam_instance_profile', 'spot', 'spot_max_price', 'tags', 'agent_install_url', 'master_url', 'root_volume_gib', 'user_data_extra'],
  gcp: ['project', 'zone', 'machine_type', 'source_image', 'network', 'subnetwork', 'service_account', 'preemptible', 'labels', 'master_url'],
  local: ['work_dir', 'agent_args', 'master_url'],
};

/** Parses one pool's provider section; `at` is its path (`resource_pools[0].provider`). */
export function parseProviderConfig(raw: Record<string, unknown>, at: string): ProviderConfig {
  const fail = (field: string, msg: string): never => {
    throw new ProviderConfigError(`${at}.${field}: ${msg}`);
  };
  const type = raw.type;
  if (type !== 'aws' && type !== 'gcp' && type !== 'local') return fail('type', `"${String(type)}" is not supported (supported: aws, gcp, local)`);
  const known = [...COMMON, ...PROVIDER_FIELDS[type]];
  for (const k of Object.keys(raw)) if (!known.includes(k)) fail(k, `unknown field for provider type ${type} (known: ${known.join(', ')})`);
  const num = (k: string, opts: { int?: boolean; min: number; def?: number }): number => {
    const v = raw[k];
    if (v === undefined || v === null) {
      if (opts.def === undefined) return fail(k, 'is required');
      return opts.def;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(k, `must be a number, got ${JSON.stringify(v)}`);
    if (opts.int && !Number.isInteger(v)) return fail(k, `must be a whole number, got ${v}`);
    if (v < opts.min) return fail(k, `must be >= ${opts.min}, got ${v}`);
    return v;
  };
  const min_instances = num('min_instances', { int: true, min: 0, def: 0 });
  const max_instances = num('max_instances', { int: true, min: 1 });
  if (max_instances < min_instances) fail('max_instances', `must be >= min_instances (${min_instances}), got ${max_instances}`);
  const launch_backoff = num('launch_backoff', { min: 0, def: 30 });
  const max_launch_backoff = num('max_launch_backoff', { min: 0, def: 600 });
  if (max_launch_backoff < launch_backoff) fail('max_launch_backoff', `must be >= launch_backoff (${launch_backoff}), got ${max_launch_backoff}`);
  const instance_type = raw.instance_type ?? (type === 'local' ? 'local' : undefined);
  if (typeof instance_type !== 'string' || !instance_type) fail('instance_type', 'is required (a string)');
  const fields: Record<string, unknown> = {};
  for (const k of PROVIDER_FIELDS[type]) if (raw[k] !== undefined) fields[k] = raw[k];
  const out: ProviderConfig = {
    type,
    min_instances,
    max_instances,
    idle_timeout: num('idle_timeout', { min: 0, def: 300 }),
    max_starting_period: num('max_starting_period', { min: 1, def: type === 'local' ? 120 : 600 }),
    slots_per_instance: num('slots_per_instance', { int: true, min: 1, def: 1 }),
    instance_type: instance_type as string,
    launch_backoff,
    max_launch_backoff,
    reconcile_interval: num('reconcile_interval', { min: 0.1, def: type === 'local' ? 1 : 10 }),
    fields,
  };
  if (raw.hourly_cost !== undefined) out.hourly_cost = num('hourly_cost', { min: 0 });
  return out;
}
