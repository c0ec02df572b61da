// The master's configuration file (`--config master.yaml`, HONE_CONFIG): every command-line flag as a key
// (dashes or underscores: `db_url` and `db-url` are the same key), plus `resource_pools`, which only the file can
// say. Flags and environment variables override the file. Pure: parsing and checking only; main.ts reads the file.
import { parse as parseYaml } from 'yaml';

/** One resource pool, as the configuration file declares it. */
export interface ResourcePoolConfig {
  name: string;
  description?: string;
  /**
   * What runs this pool's allocations: `{type: agent}` (the default: agent daemons join it) or another resource
   * manager's own fields (e.g. `{type: kubernetes, namespace, ...}`), checked by that manager.
   */
  resource_manager: { type: string } & Record<string, unknown>;
  /** How the pool grows and shrinks (`{type: aws | gcp | local, ...}`), checked by the provisioner; absent: fixed. */
  provider?: { type: string } & Record<string, unknown>;
}

export interface MasterConfigFile {
  /** Flag values by flag name (`db-url`), as strings or booleans, exactly as the command line would give them. */
  flags: Record<string, string | boolean>;
  resourcePools: ResourcePoolConfig[];
}

export class MasterConfigError extends Error {}

const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * Parses the text of a master configuration file. `flagTypes` names every flag the master accepts and whether it
 * takes a value (`string`) or is a switch (`boolean`); other keys are refused with the list of known ones.
 */
export function parseMasterConfig(text: string, file: string, flagTypes: Record<string, 'string' | 'boolean'>): MasterConfigFile {
  const fail = (msg: string): never => {
    throw new MasterConfigError(`master config ${file}: ${msg}`);
  };
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    return fail(`not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return { flags: {}, resourcePools: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('must be a mapping of keys to values');
  const flags: Record<string, string | boolean> = {};
  let resourcePools: ResourcePoolConfig[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (key === 'resource_pools' || key === 'resource-pools') {
      resourcePools = parsePools(value, fail);
      continue;
    }
    const flag = key.replace(/_/g, '-');
    const type = flagTypes[flag];
    if (!type || flag === 'config' || flag === 'help') {
      const known = Object.keys(flagTypes).filter((k) => k !== 'config' && k !== 'help').map((k) => k.replace(/-/g, '_'));
      return fail(`unknown key "${key}" (known: ${[...known, 'resource_pools'].join(', ')})`);
    }
    if (value === null || value === undefined) continue;
    if (type === 'boolean') {
      if (typeof value !== 'boolean') return fail(`${key}: must be true or false, got ${JSON.stringify(value)}`);
      flags[flag] = value;
    } else {
      if (typeof value !== 'string' && typeof value !== 'number') return fail(`${key}: must be a string or a number, got ${JSON.stringify(value)}`);
      flags[flag] = String(value);
    }
  }
  return { flags, resourcePools };
}

function parsePools(value: unknown, fail: (msg: string) => never): ResourcePoolConfig[] {
  if (!Array.isArray(value)) return fail('resource_pools: must be a list of pools, each with a name');
  const seen = new Set<string>();
  return value.map((p, i) => {
    const at = `resource_pools[${i}]`;
    if (!p || typeof p !== 'object' || Array.isArray(p)) return fail(`${at}: must be a mapping with a name`);
    const pool = p as Record<string, unknown>;
    for (const k of Object.keys(pool)) {
      if (!['name', 'description', 'resource_manager', 'provider'].includes(k)) {
        return fail(`${at}: unknown key "${k}" (known: name, description, resource_manager, provider)`);
      }
    }
    if (typeof pool.name !== 'string' || !pool.name) return fail(`${at}.name: is required`);
    if (!POOL_NAME.test(pool.name)) return fail(`${at}.name: "${pool.name}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    if (seen.has(pool.name)) return fail(`${at}.name: pool "${pool.name}" is declared twice`);
    seen.add(pool.name);
    if (pool.description !== undefined && typeof pool.description !== 'string') return fail(`${at}.description: must be a string`);
    const typed = (key: 'resource_manager' | 'provider'): ({ type: string } & Record<string, unknown>) | undefined => {
      const v = pool[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'object' || Array.isArray(v)) return fail(`${at}.${key}: must be a mapping with a type`);
      const t = (v as Record<string, unknown>).type;
      if (typeof t !== 'string' || !t) return fail(`${at}.${key}.type: is required`);
      return v as { type: string } & Record<string, unknown>;
    };
    return {
      name: pool.name,
      ...(typeof pool.description === 'string' ? { description: pool.description } : {}),
      resource_manager: typed('resource_manager') ?? { type: 'agent' },
      ...(typed('provider') ? { provider: typed('provider')! } : {}),
    };
  });
}
