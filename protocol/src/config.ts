// Experiment configuration: parsed once at the boundary into a typed, defaulted value.
// Field names follow Determined's so that its users feel at home. Every error names the
// field path (`searcher.max_trials`) and what was expected.
import { parse as parseYaml } from 'yaml';
import { entrypointRefusal } from './entrypoint';
import { flattenSpecs, type Hyperparameters, type HyperparameterSpec } from './hyperparameters';


export type LengthUnit = 'batches' | 'epochs' | 'records';
export interface Length {
  unit: LengthUnit;
  value: number;
}

export const SEARCHER_NAMES = ['single', 'random', 'grid', 'async_halving', 'adaptive_asha', 'bayesian'] as const;
export type SearcherName = (typeof SEARCHER_NAMES)[number];
export const ASHA_MODES = ['aggressive', 'standard', 'conservative'] as const;
export type AshaMode = (typeof ASHA_MODES)[number];

export interface SearcherConfig {
  name: SearcherName;
  metric: string;
  smaller_is_better: boolean;
  /** Training length of a full trial. Exactly one of max_length / max_time is set. */
  max_length?: Length;
  /** With time_metric: the trial length measured in that reported metric (e.g. `batches`). */
  max_time?: number;
  time_metric?: string;
  max_trials: number;
  /** 0 means no limit beyond the cluster's capacity (Determined's default is 16). */
  max_concurrent_trials: number;
  // ASHA family (async_halving, adaptive_asha) only; absent for the other searchers. Defaults: ASHA_DEFAULTS.
  num_rungs?: number;
  divisor?: number;
  max_rungs?: number;
  mode?: AshaMode;
  stop_once?: boolean;
  bracket_rungs?: number[];
  /** Sampler for trials entering the bottom rung (adaptive_asha / async_halving): random or bayesian (BOHB-like). */
  sampler?: 'random' | 'bayesian';
  // Bayesian
  initial_points?: number;
  /** Warm start: every trial starts from this trial's latest checkpoint (Determined's searcher.source_trial_id). */
  source_trial_id?: number;
  /** Warm start: every trial starts from this checkpoint (Determined's searcher.source_checkpoint_uuid). */
  source_checkpoint_uuid?: string;
}

export const ASHA_SEARCHERS: readonly SearcherName[] = ['async_halving', 'adaptive_asha'];
export const ASHA_DEFAULTS = { divisor: 4, max_rungs: 5, mode: 'standard', stop_once: false, sampler: 'random' } as const;
const ASHA_FIELDS = ['num_rungs', 'divisor', 'max_rungs', 'mode', 'stop_once', 'bracket_rungs', 'sampler'];

export interface ResourcesConfig {
  slots_per_trial: number;
  resource_pool: string;
  priority: number;
  weight: number;
  max_slots?: number;
}

export type CheckpointStorageConfig =
  | { type: 'shared_fs'; host_path: string; storage_path?: string; save_experiment_best: number; save_trial_best: number; save_trial_latest: number }
  | { type: 'master'; save_experiment_best: number; save_trial_best: number; save_trial_latest: number }
  | {
      type: 's3';
      bucket: string;
      /** Key prefix, without leading or trailing '/'; objects are `<prefix>/<uuid>/<file>`. */
      prefix?: string;
      /** An S3-compatible server (MinIO, Ceph, s3rver); implies path-style addressing. */
      endpoint_url?: string;
      region?: string;
      save_experiment_best: number;
      save_trial_best: number;
      save_trial_latest: number;
    };

export interface ExperimentConfig {
  name: string;
  description?: string;
  entrypoint: string;
  hyperparameters: Hyperparameters;
  searcher: SearcherConfig;
  resources: ResourcesConfig;
  checkpoint_storage: CheckpointStorageConfig;
  max_restarts: number;
  min_validation_period?: Length;
  min_checkpoint_period?: Length;
  records_per_epoch?: number;
  scheduling_unit: number;
  environment: { variables: Record<string, string> };
  labels: string[];
  /** Free-form settings for the model code (Determined's `data`). */
  data?: Record<string, unknown>;
  /** The project the experiment belongs to (`default` when absent). */
  project?: string;
  /** `experiment_seed` fixes the searcher's seed (and so every trial's), as in Determined. */
  reproducibility?: { experiment_seed: number };
}

export interface ConfigError {
  path: string;
  message: string;
}

export class ConfigValidationError extends Error {
  constructor(public readonly errors: ConfigError[]) {
    super(errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '));
    this.name = 'ConfigValidationError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? (v.length ? 'a list' : 'an empty list') : typeof v === 'string' ? `"${v}"` : `${typeof v} ${JSON.stringify(v)}`;

/**
 * Determined fields that Hone does not have, by where they appear, with why. Named in the error instead of the
 * list of expected fields, so a Determined user knows at once that the field is not a typo.
 */
const CONTAINERS = 'not supported by Hone (containers are not used: trials run as processes on the agents)';
const NOT_SUPPORTED: Record<string, Record<string, string>> = {
  '': {
    bind_mounts: CONTAINERS,
    profiling: 'not supported by Hone',
    optimizations: 'not supported by Hone',
    perform_initial_validation: 'not supported by Hone',
    debug: 'not supported by Hone',
    workspace: 'not supported by Hone (use project)',
    integrations: 'not supported by Hone',
    preemption_timeout: 'is a master setting in Hone (--preemption-timeout-s)',
  },
  environment: {
    image: CONTAINERS,
    pod_spec: CONTAINERS,
    force_pull_image: CONTAINERS,
    registry_auth: CONTAINERS,
    add_capabilities: CONTAINERS,
    drop_capabilities: CONTAINERS,
    ports: CONTAINERS,
    proxy_ports: CONTAINERS,
  },
  resources: {
    shm_size: CONTAINERS,
    devices: CONTAINERS,
    agent_label: 'not supported by Hone (use resource_pool)',
    native_parallel: 'not supported by Hone',
  },
};

class Reader {
  errors: ConfigError[] = [];
  fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }
  /** Refuses keys of `o` outside `allowed`; the list of expected fields is given once per mapping. */
  unknownKeys(o: Obj, path: string, allowed: string[]): void {
    let listed = false;
    for (const k of Object.keys(o)) {
      if (allowed.includes(k)) continue;
      const why = NOT_SUPPORTED[path]?.[k];
      if (why) this.fail(join(path, k), why);
      else {
        this.fail(join(path, k), listed ? 'unknown field' : `unknown field (expected one of: ${allowed.join(', ')})`);
        listed = true;
      }
    }
  }
  str(o: Obj, key: string, path: string, opts: { required?: boolean; def?: string; oneOf?: readonly string[] } = {}): string | undefined {
    const v = o[key];
    const p = join(path, key);
    if (v === undefined || v === null) return opts.required ? this.fail(p, 'is required') : opts.def;
    if (typeof v !== 'string') return this.fail(p, `must be a string, got ${describe(v)}`);
    if (opts.required && v.trim() === '') return this.fail(p, 'must not be empty');
    if (opts.oneOf && !opts.oneOf.includes(v)) return this.fail(p, `must be one of ${opts.oneOf.join(', ')}; got "${v}"`);
    return v;
  }
  num(
    o: Obj,
    key: string,
    path: string,
    opts: { required?: boolean; def?: number; int?: boolean; min?: number; max?: number; exclusiveMin?: number } = {},
  ): number | undefined {
    const v = o[key];
    const p = join(path, key);
    if (v === undefined || v === null) return opts.required ? this.fail(p, 'is required') : opts.def;
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.fail(p, `must be a number, got ${describe(v)}`);
    if (opts.int && !Number.isInteger(v)) return this.fail(p, `must be an integer, got ${v}`);
    if (opts.min !== undefined && v < opts.min) return this.fail(p, `must be >= ${opts.min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) return this.fail(p, `must be <= ${opts.max}, got ${v}`);
    if (opts.exclusiveMin !== undefined && v <= opts.exclusiveMin) return this.fail(p, `must be > ${opts.exclusiveMin}, got ${v}`);
    return v;
  }
  bool(o: Obj, key: string, path: string, def: boolean): boolean {
    const v = o[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.fail(join(path, key), `must be true or false, got ${describe(v)}`);
      return def;
    }
    return v;
  }
  obj(o: Obj, key: string, path: string, required = false): Obj | undefined {
    const v = o[key];
    const p = join(path, key);
    if (v === undefined || v === null) return required ? this.fail(p, 'is required') : undefined;
    if (!isObj(v)) return this.fail(p, `must be a mapping, got ${describe(v)}`);
    return v;
  }
  length(o: Obj, key: string, path: string): Length | undefined {
    const v = o[key];
    const p = join(path, key);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 1) return this.fail(p, `must be a positive integer, got ${v}`);
      return { unit: 'batches', value: v };
    }
    if (!isObj(v)) return this.fail(p, `must be a number of batches or a mapping like {batches: 100}, got ${describe(v)}`);
    const keys = Object.keys(v);
    if (keys.length !== 1 || !['batches', 'epochs', 'records'].includes(keys[0]!)) {
      return this.fail(p, `must have exactly one of batches, epochs, records; got ${keys.length ? keys.join(', ') : 'none'}`);
    }
    const unit = keys[0] as LengthUnit;
    const n = this.num(v, unit, p, { required: true, int: true, min: 1 });
    return n === undefined ? undefined : { unit, value: n };
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function parseHyperparameters(r: Reader, raw: unknown, path: string): Hyperparameters {
  const out: Hyperparameters = {};
  if (raw === undefined || raw === null) return out;
  if (!isObj(raw)) {
    r.fail(path, `must be a mapping of names to hyperparameters, got ${describe(raw)}`);
    return out;
  }
  for (const [name, spec] of Object.entries(raw)) {
    const p = join(path, name);
    const parsed = parseHyperparameter(r, spec, p);
    if (parsed) out[name] = parsed;
  }
  return out;
}

const HP_TYPES = ['const', 'int', 'double', 'log', 'categorical'];

function parseHyperparameter(r: Reader, spec: unknown, p: string): HyperparameterSpec | undefined {
  // A bare value is a constant, as in Determined.
  if (!isObj(spec)) return { type: 'const', val: spec };
  if (!('type' in spec)) return { type: 'nested', vals: parseHyperparameters(r, spec, p) };
  const type = r.str(spec, 'type', p, { required: true, oneOf: HP_TYPES });
  switch (type) {
    case 'const':
      r.unknownKeys(spec, p, ['type', 'val']);
      if (!('val' in spec)) return r.fail(join(p, 'val'), 'is required');
      return { type: 'const', val: spec.val };
    case 'int':
    case 'double':
    case 'log': {
      r.unknownKeys(spec, p, type === 'log' ? ['type', 'minval', 'maxval', 'base', 'count'] : ['type', 'minval', 'maxval', 'count']);
      const minval = r.num(spec, 'minval', p, { required: true, int: type === 'int' });
      const maxval = r.num(spec, 'maxval', p, { required: true, int: type === 'int' });
      const count = r.num(spec, 'count', p, { int: true, min: 1 });
      if (minval === undefined || maxval === undefined) return undefined;
      if (maxval < minval) return r.fail(join(p, 'maxval'), `must be >= minval (${minval}), got ${maxval}`);
      if (type === 'log') {
        const base = r.num(spec, 'base', p, { def: 10, exclusiveMin: 0 });
        if (base === undefined) return undefined;
        if (base === 1) return r.fail(join(p, 'base'), 'must not be 1');
        // Determined's log hyperparameters give minval/maxval as exponents of base.
        return { type: 'log', minval, maxval, base, ...(count !== undefined ? { count } : {}) };
      }
      return { type, minval, maxval, ...(count !== undefined ? { count } : {}) };
    }
    case 'categorical': {
      r.unknownKeys(spec, p, ['type', 'vals']);
      const vals = spec.vals;
      if (!Array.isArray(vals) || vals.length === 0) return r.fail(join(p, 'vals'), `must be a non-empty list, got ${describe(vals)}`);
      return { type: 'categorical', vals };
    }
    default:
      return undefined;
  }
}

function parseSearcher(r: Reader, raw: Obj | undefined): SearcherConfig | undefined {
  const p = 'searcher';
  if (!raw) return undefined;
  const name = r.str(raw, 'name', p, { required: true, oneOf: SEARCHER_NAMES }) as SearcherName | undefined;
  const metric = r.str(raw, 'metric', p, { required: true });
  const smaller = r.bool(raw, 'smaller_is_better', p, true);
  const max_length = r.length(raw, 'max_length', p);
  const max_time = r.num(raw, 'max_time', p, { int: true, min: 1 });
  const time_metric = r.str(raw, 'time_metric', p);
  if (max_length === undefined && max_time === undefined && !r.errors.some((e) => e.path.startsWith('searcher.max_'))) {
    r.fail(join(p, 'max_length'), 'is required (or max_time with time_metric), e.g. max_length: {batches: 1000}');
  }
  if (max_length !== undefined && max_time !== undefined) r.fail(join(p, 'max_time'), 'cannot be combined with max_length');
  if (max_time !== undefined && time_metric === undefined) r.fail(join(p, 'time_metric'), 'is required with max_time');
  const needsTrials = name === 'random' || name === 'async_halving' || name === 'adaptive_asha' || name === 'bayesian';
  const max_trials = r.num(raw, 'max_trials', p, { required: needsTrials, int: true, min: 1, max: 1_000_000, def: 1 });
  const max_concurrent_trials = r.num(raw, 'max_concurrent_trials', p, { int: true, min: 0, max: 100_000, def: 16 });
  const asha = name !== undefined && ASHA_SEARCHERS.includes(name);
  if (name !== undefined && !asha) {
    for (const f of ASHA_FIELDS) if (raw[f] !== undefined) r.fail(join(p, f), `is only for the async_halving and adaptive_asha searchers, not ${name}`);
  }
  const divisor = r.num(raw, 'divisor', p, { def: ASHA_DEFAULTS.divisor, exclusiveMin: 1 });
  const num_rungs = r.num(raw, 'num_rungs', p, { int: true, min: 1, max: 100, required: name === 'async_halving' });
  const max_rungs = r.num(raw, 'max_rungs', p, { int: true, min: 1, max: 100, def: ASHA_DEFAULTS.max_rungs });
  const mode = r.str(raw, 'mode', p, { def: ASHA_DEFAULTS.mode, oneOf: ASHA_MODES }) as AshaMode | undefined;
  const stop_once = r.bool(raw, 'stop_once', p, ASHA_DEFAULTS.stop_once);
  const sampler = r.str(raw, 'sampler', p, { def: ASHA_DEFAULTS.sampler, oneOf: ['random', 'bayesian'] }) as 'random' | 'bayesian' | undefined;
  const initial_points = r.num(raw, 'initial_points', p, { int: true, min: 1 });
  const source_trial_id = r.num(raw, 'source_trial_id', p, { int: true, min: 1 });
  const source_checkpoint_uuid = r.str(raw, 'source_checkpoint_uuid', p);
  if (source_checkpoint_uuid !== undefined && !UUID.test(source_checkpoint_uuid)) r.fail(join(p, 'source_checkpoint_uuid'), `must be a checkpoint uuid, got "${source_checkpoint_uuid}"`);
  if (source_checkpoint_uuid !== undefined && source_trial_id !== undefined) r.fail(join(p, 'source_checkpoint_uuid'), 'cannot be combined with searcher.source_trial_id');
  let bracket_rungs: number[] | undefined;
  if (raw.bracket_rungs !== undefined) {
    if (!Array.isArray(raw.bracket_rungs) || raw.bracket_rungs.some((x) => !Number.isInteger(x) || (x as number) < 1)) {
      r.fail(join(p, 'bracket_rungs'), 'must be a list of positive integers');
    } else bracket_rungs = raw.bracket_rungs as number[];
  }
  r.unknownKeys(raw, p, [
    'name', 'metric', 'smaller_is_better', 'max_length', 'max_time', 'time_metric', 'max_trials', 'max_concurrent_trials',
    'divisor', 'num_rungs', 'max_rungs', 'mode', 'stop_once', 'sampler', 'initial_points', 'source_trial_id', 'bracket_rungs',
    'source_checkpoint_uuid',
  ]);
  if (!name || !metric || max_trials === undefined || max_concurrent_trials === undefined || !divisor || !max_rungs || !mode || !sampler) {
    return undefined;
  }
  return {
    name,
    metric,
    smaller_is_better: smaller,
    ...(max_length ? { max_length } : {}),
    ...(max_time !== undefined ? { max_time } : {}),
    ...(time_metric !== undefined ? { time_metric } : {}),
    max_trials: name === 'single' ? 1 : max_trials,
    max_concurrent_trials,
    ...(asha ? { num_rungs: num_rungs ?? max_rungs, divisor, max_rungs, mode, stop_once, sampler, ...(bracket_rungs ? { bracket_rungs } : {}) } : {}),
    ...(initial_points !== undefined ? { initial_points } : {}),
    ...(source_trial_id !== undefined ? { source_trial_id } : {}),
    ...(source_checkpoint_uuid !== undefined ? { source_checkpoint_uuid: source_checkpoint_uuid.toLowerCase() } : {}),
  };
}

/** S3 bucket naming rules (lowercase letters, digits, dots, hyphens; starts and ends with a letter or digit). */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PROJECT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Project and model names: 1–128 letters, digits, `.`, `_`, `-`, not starting with `.` or `-`. */
export function nameRefusal(name: string): string | null {
  return PROJECT_NAME.test(name) ? null : `must be 1-128 letters, digits, ".", "_" or "-" (not starting with "." or "-"), got ${JSON.stringify(name)}`;
}

function parseCheckpointStorage(r: Reader, raw: Obj | undefined): CheckpointStorageConfig | undefined {
  const p = 'checkpoint_storage';
  const o = raw ?? { type: 'master' };
  const type = r.str(o, 'type', p, { required: true, oneOf: ['shared_fs', 'master', 's3'] });
  const gc = {
    save_experiment_best: r.num(o, 'save_experiment_best', p, { int: true, min: 0, def: 0 }) ?? 0,
    save_trial_best: r.num(o, 'save_trial_best', p, { int: true, min: 0, def: 1 }) ?? 1,
    save_trial_latest: r.num(o, 'save_trial_latest', p, { int: true, min: 0, def: 1 }) ?? 1,
  };
  const gcKeys = ['type', 'save_experiment_best', 'save_trial_best', 'save_trial_latest'];
  if (type === 'shared_fs') {
    r.unknownKeys(o, p, [...gcKeys, 'host_path', 'storage_path']);
    const host_path = r.str(o, 'host_path', p, { required: true });
    const storage_path = r.str(o, 'storage_path', p);
    if (host_path === undefined) return undefined;
    return { type, host_path, ...(storage_path ? { storage_path } : {}), ...gc };
  }
  if (type === 's3') {
    r.unknownKeys(o, p, [...gcKeys, 'bucket', 'prefix', 'endpoint_url', 'region']);
    const bucket = r.str(o, 'bucket', p, { required: true });
    if (bucket !== undefined && bucket.trim() !== '' && !S3_BUCKET.test(bucket)) {
      r.fail(join(p, 'bucket'), `must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got "${bucket}"`);
    }
    const rawPrefix = r.str(o, 'prefix', p);
    const prefix = rawPrefix?.replace(/^\/+|\/+$/g, '');
    if (prefix !== undefined && prefix.split('/').some((part) => part === '' || part === '.' || part === '..')) {
      r.fail(join(p, 'prefix'), `must be a key prefix like "hone/checkpoints" (no empty, "." or ".." parts), got "${rawPrefix}"`);
    }
    const endpoint_url = r.str(o, 'endpoint_url', p);
    if (endpoint_url !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint_url)) r.fail(join(p, 'endpoint_url'), `must be an http:// or https:// URL, got "${endpoint_url}"`);
    const region = r.str(o, 'region', p);
    if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) r.fail(join(p, 'region'), `must be a region name like us-east-1, got "${region}"`);
    if (bucket === undefined) return undefined;
    return { type, bucket, ...(prefix ? { prefix } : {}), ...(endpoint_url ? { endpoint_url } : {}), ...(region ? { region } : {}), ...gc };
  }
  if (type === 'master') {
    r.unknownKeys(o, p, gcKeys);
    return { type, ...gc };
  }
  return undefined;
}

const TOP_LEVEL = [
  'name', 'description', 'entrypoint', 'hyperparameters', 'searcher', 'resources', 'checkpoint_storage', 'max_restarts',
  'min_validation_period', 'min_checkpoint_period', 'records_per_epoch', 'scheduling_unit', 'environment', 'labels',
  'data', 'reproducibility', 'project', 'source_trial_id', 'source_checkpoint_uuid',
];

/** Parses an experiment config given as YAML text or an already-decoded value. Throws ConfigValidationError. */
export function parseExperimentConfig(input: unknown): ExperimentConfig {
  let raw = input;
  if (typeof input === 'string') {
    try {
      raw = parseYaml(input);
    } catch (e) {
      throw new ConfigValidationError([{ path: '', message: `config is not valid YAML: ${(e as Error).message.split('\n')[0]}` }]);
    }
  }
  if (!isObj(raw)) throw new ConfigValidationError([{ path: '', message: `config must be a mapping, got ${describe(raw)}` }]);
  const r = new Reader();
  r.unknownKeys(raw, '', TOP_LEVEL);
  const name = r.str(raw, 'name', '', { def: 'unnamed' });
  const description = r.str(raw, 'description', '');
  const entrypoint = r.str(raw, 'entrypoint', '', { required: true });
  const badEntrypoint = entrypoint === undefined ? undefined : entrypointRefusal(entrypoint);
  if (badEntrypoint) r.fail('entrypoint', badEntrypoint);
  const hyperparameters = parseHyperparameters(r, raw.hyperparameters, 'hyperparameters');
  const searcherObj = r.obj(raw, 'searcher', '', true);
  const searcherRaw = searcherObj ? { ...searcherObj } : undefined;
  // Warm start may be named at the top level too; it is kept in the searcher section, where Determined has it.
  for (const k of ['source_trial_id', 'source_checkpoint_uuid'] as const) {
    if (raw[k] === undefined) continue;
    if (searcherRaw && searcherRaw[k] !== undefined) r.fail(k, `cannot be combined with searcher.${k}`);
    else if (searcherRaw) searcherRaw[k] = raw[k];
  }
  const searcher = parseSearcher(r, searcherRaw);
  const project = r.str(raw, 'project', '');
  if (project !== undefined) {
    const bad = nameRefusal(project);
    if (bad) r.fail('project', bad);
  }
  const res = r.obj(raw, 'resources', '') ?? {};
  r.unknownKeys(res, 'resources', ['slots_per_trial', 'resource_pool', 'priority', 'weight', 'max_slots']);
  const slots_per_trial = r.num(res, 'slots_per_trial', 'resources', { int: true, min: 1, def: 1 });
  const resource_pool = r.str(res, 'resource_pool', 'resources', { def: 'default' });
  const priority = r.num(res, 'priority', 'resources', { int: true, min: 1, max: 99, def: 42 });
  const weight = r.num(res, 'weight', 'resources', { exclusiveMin: 0, def: 1 });
  const max_slots = r.num(res, 'max_slots', 'resources', { int: true, min: 1 });
  const checkpoint_storage = parseCheckpointStorage(r, r.obj(raw, 'checkpoint_storage', ''));
  const max_restarts = r.num(raw, 'max_restarts', '', { int: true, min: 0, def: 5 });
  const min_validation_period = r.length(raw, 'min_validation_period', '');
  const min_checkpoint_period = r.length(raw, 'min_checkpoint_period', '');
  const records_per_epoch = r.num(raw, 'records_per_epoch', '', { int: true, min: 1 });
  const scheduling_unit = r.num(raw, 'scheduling_unit', '', { int: true, min: 1, def: 100 });
  const env = r.obj(raw, 'environment', '') ?? {};
  r.unknownKeys(env, 'environment', ['variables', 'environment_variables']);
  const variables: Record<string, string> = {};
  // Determined spells it environment_variables; both mean the same.
  if (env.variables !== undefined && env.environment_variables !== undefined) {
    r.fail('environment.environment_variables', 'cannot be combined with environment.variables (they are the same field)');
  }
  const vars = env.variables ?? env.environment_variables;
  const varsPath = env.variables !== undefined ? 'environment.variables' : 'environment.environment_variables';
  if (vars !== undefined && vars !== null) {
    if (isObj(vars)) {
      for (const [k, v] of Object.entries(vars)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) r.fail(`${varsPath}.${k}`, 'is not a valid environment variable name');
        else variables[k] = String(v);
      }
    } else if (Array.isArray(vars)) {
      vars.forEach((item, i) => {
        const m = typeof item === 'string' ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(item) : null;
        if (!m) r.fail(`${varsPath}[${i}]`, 'must be NAME=value');
        else variables[m[1]!] = m[2]!;
      });
    } else r.fail(varsPath, 'must be a mapping or a list of NAME=value');
  }
  // Free-form settings for the model code, as Determined's `data` (read from the config in the trial).
  const data = r.obj(raw, 'data', '');
  const repro = r.obj(raw, 'reproducibility', '') ?? {};
  r.unknownKeys(repro, 'reproducibility', ['experiment_seed']);
  const experiment_seed = r.num(repro, 'experiment_seed', 'reproducibility', { int: true, min: 0, max: 2 ** 31 - 2 });
  let labels: string[] = [];
  if (raw.labels !== undefined) {
    if (!Array.isArray(raw.labels) || raw.labels.some((l) => typeof l !== 'string')) r.fail('labels', 'must be a list of strings');
    else labels = raw.labels as string[];
  }
  if (searcher && searcher.name === 'grid') {
    for (const [n, h] of flattenSpecs(hyperparameters)) {
      if ((h.type === 'int' || h.type === 'double' || h.type === 'log') && h.count === undefined && h.type !== 'int') {
        r.fail(`hyperparameters.${n}.count`, 'is required for the grid searcher');
      }
    }
  }
  if (searcher && max_slots !== undefined && slots_per_trial !== undefined && max_slots < slots_per_trial) {
    r.fail('resources.max_slots', `must be >= resources.slots_per_trial (${slots_per_trial}), got ${max_slots}`);
  }
  if (
    r.errors.length > 0 || !entrypoint || !searcher || !checkpoint_storage || slots_per_trial === undefined || !resource_pool ||
    priority === undefined || weight === undefined || max_restarts === undefined || scheduling_unit === undefined || name === undefined
  ) {
    throw new ConfigValidationError(r.errors.length ? r.errors : [{ path: '', message: 'invalid config' }]);
  }
  return {
    name,
    ...(description !== undefined ? { description } : {}),
    entrypoint,
    hyperparameters,
    searcher,
    resources: { slots_per_trial, resource_pool, priority, weight, ...(max_slots !== undefined ? { max_slots } : {}) },
    checkpoint_storage,
    max_restarts,
    ...(min_validation_period ? { min_validation_period } : {}),
    ...(min_checkpoint_period ? { min_checkpoint_period } : {}),
    ...(records_per_epoch !== undefined ? { records_per_epoch } : {}),
    scheduling_unit,
    environment: { variables },
    labels,
    ...(data ? { data } : {}),
    ...(project !== undefined ? { project } : {}),
    ...(experiment_seed !== undefined ? { reproducibility: { experiment_seed } } : {}),
  };
}

/** The length a searcher works in: max_length's value, or max_time. */
export function searcherMaxLength(s: SearcherConfig): number {
  return s.max_length ? s.max_length.value : (s.max_time ?? 1);
}
