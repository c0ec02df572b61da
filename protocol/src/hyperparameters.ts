// Hyperparameter specs and values, and the dotted-name views of nested ones. No dependencies, so that the web UI
// can use them without bundling the config parser's YAML reader.

export type HyperparameterSpec =
  | { type: 'const'; val: unknown }
  | { type: 'int'; minval: number; maxval: number; count?: number }
  | { type: 'double'; minval: number; maxval: number; count?: number }
  | { type: 'log'; minval: number; maxval: number; base: number; count?: number }
  | { type: 'categorical'; vals: unknown[] }
  | { type: 'nested'; vals: Hyperparameters };

export type Hyperparameters = Record<string, HyperparameterSpec>;

/** Concrete hyperparameter values of one trial (nested specs become nested objects). */
export type HParams = Record<string, unknown>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Flattens nested hyperparameter specs to dotted names, in a stable order. */
export function flattenSpecs(h: Hyperparameters, prefix = ''): Array<[string, Exclude<HyperparameterSpec, { type: 'nested' }>]> {
  const out: Array<[string, Exclude<HyperparameterSpec, { type: 'nested' }>]> = [];
  for (const key of Object.keys(h).sort()) {
    const spec = h[key]!;
    const name = prefix ? `${prefix}.${key}` : key;
    if (spec.type === 'nested') out.push(...flattenSpecs(spec.vals, name));
    else out.push([name, spec]);
  }
  return out;
}

/** Builds a nested HParams object from dotted names. */
export function unflattenHParams(flat: Record<string, unknown>): HParams {
  const out: HParams = {};
  for (const [k, v] of Object.entries(flat)) {
    const parts = k.split('.');
    let cur: Record<string, unknown> = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i]!;
      if (!isObj(cur[part])) cur[part] = {};
      cur = cur[part] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1]!] = v;
  }
  return out;
}


/** Flattens nested hyperparameter values to dotted names (the inverse of unflattenHParams). */
export function flattenValues(h: HParams, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (isObj(v)) Object.assign(out, flattenValues(v, name));
    else out[name] = v;
  }
  return out;
}
