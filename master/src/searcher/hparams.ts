// Hyperparameter sampling, grids, and the unit-cube encoding used by the Bayesian model.
// Specs follow Determined: `log` minval/maxval are exponents of `base`; nested specs become nested objects.
import { flattenSpecs, unflattenHParams } from '@hone/protocol';
import { GRID_INT_DEFAULT_COUNT } from '@hone/protocol/grid';
import type { HParams, HyperparameterSpec, Hyperparameters } from '@hone/protocol';
import { nextFloat, nextInt, type RngState } from './rng';

type LeafSpec = Exclude<HyperparameterSpec, { type: 'nested' }>;

/** Samples one value of a leaf spec. Draws from the generator in a fixed order, so sampling is reproducible. */
export function sampleSpec(spec: LeafSpec, rng: RngState): unknown {
  switch (spec.type) {
    case 'const':
      return spec.val;
    case 'int':
      return spec.minval + nextInt(rng, spec.maxval - spec.minval + 1);
    case 'double':
      return spec.minval + nextFloat(rng) * (spec.maxval - spec.minval);
    case 'log':
      return Math.pow(spec.base, spec.minval + nextFloat(rng) * (spec.maxval - spec.minval));
    case 'categorical':
      return spec.vals[nextInt(rng, spec.vals.length)];
  }
}

/** Samples every hyperparameter independently (uniform; log-uniform for `log`). */
export function sampleHParams(h: Hyperparameters, rng: RngState): HParams {
  const flat: Record<string, unknown> = {};
  for (const [name, spec] of flattenSpecs(h)) flat[name] = sampleSpec(spec, rng);
  return unflattenHParams(flat);
}

/** Evenly spaced values (inclusive of both ends); a count of 1 gives the lower end. */
function linspace(lo: number, hi: number, count: number): number[] {
  if (count <= 1) return [lo];
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

/** The values a grid search takes for one leaf spec. */
export function gridValues(spec: LeafSpec): unknown[] {
  switch (spec.type) {
    case 'const':
      return [spec.val];
    case 'categorical':
      return [...spec.vals];
    case 'int': {
      const n = spec.maxval - spec.minval + 1;
      const count = spec.count ?? (n <= GRID_INT_DEFAULT_COUNT ? n : GRID_INT_DEFAULT_COUNT);
      if (count >= n) return Array.from({ length: n }, (_, i) => spec.minval + i);
      const vals = linspace(spec.minval, spec.maxval, count).map((v) => Math.round(v));
      return [...new Set(vals)];
    }
    case 'double':
      return linspace(spec.minval, spec.maxval, spec.count ?? 1);
    case 'log':
      return linspace(spec.minval, spec.maxval, spec.count ?? 1).map((e) => Math.pow(spec.base, e));
  }
}

export interface GridAxis {
  name: string;
  values: unknown[];
}

export function gridAxes(h: Hyperparameters): GridAxis[] {
  return flattenSpecs(h).map(([name, spec]) => ({ name, values: gridValues(spec) }));
}

export function gridSize(axes: GridAxis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

/** The index-th point of the cartesian product (last axis varies fastest). Computed, never stored. */
export function gridPoint(axes: GridAxis[], index: number): HParams {
  const flat: Record<string, unknown> = {};
  let rest = index;
  for (let i = axes.length - 1; i >= 0; i--) {
    const a = axes[i]!;
    flat[a.name] = a.values[rest % a.values.length];
    rest = Math.floor(rest / a.values.length);
  }
  const ordered: Record<string, unknown> = {};
  for (const a of axes) ordered[a.name] = flat[a.name];
  return unflattenHParams(ordered);
}

// ---- Unit-cube encoding for model-based samplers -------------------------------------------------

export interface SpaceDim {
  name: string;
  spec: LeafSpec;
  /** First encoded coordinate of this hyperparameter. */
  offset: number;
  /** Number of coordinates: 1, or the number of categories (one-hot). */
  width: number;
}

/** The searchable (non-constant) hyperparameters, encoded into [0,1]^size. */
export interface Space {
  dims: SpaceDim[];
  consts: Array<[string, unknown]>;
  size: number;
}

export function buildSpace(h: Hyperparameters): Space {
  const dims: SpaceDim[] = [];
  const consts: Array<[string, unknown]> = [];
  let offset = 0;
  for (const [name, spec] of flattenSpecs(h)) {
    if (spec.type === 'const') consts.push([name, spec.val]);
    else if (spec.type === 'categorical' && spec.vals.length === 1) consts.push([name, spec.vals[0]]);
    else if (spec.type !== 'categorical' && spec.maxval === spec.minval) {
      consts.push([name, spec.type === 'log' ? Math.pow(spec.base, spec.minval) : spec.minval]);
    } else {
      const width = spec.type === 'categorical' ? spec.vals.length : 1;
      dims.push({ name, spec, offset, width });
      offset += width;
    }
  }
  return { dims, consts, size: offset };
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Maps a point of the unit cube to concrete values (ints rounded, categoricals by arg-max). */
export function decodePoint(space: Space, x: number[]): HParams {
  const flat: Record<string, unknown> = {};
  for (const [name, val] of space.consts) flat[name] = val;
  for (const d of space.dims) {
    const s = d.spec;
    const u = clamp01(x[d.offset]!);
    switch (s.type) {
      case 'int':
        flat[d.name] = Math.min(s.maxval, Math.max(s.minval, Math.round(s.minval + u * (s.maxval - s.minval))));
        break;
      case 'double':
        flat[d.name] = s.minval + u * (s.maxval - s.minval);
        break;
      case 'log':
        flat[d.name] = Math.pow(s.base, s.minval + u * (s.maxval - s.minval));
        break;
      case 'categorical': {
        let best = 0;
        for (let i = 1; i < d.width; i++) if (x[d.offset + i]! > x[d.offset + best]!) best = i;
        flat[d.name] = s.vals[best];
        break;
      }
      default:
        break;
    }
  }
  const ordered: Record<string, unknown> = {};
  for (const k of Object.keys(flat).sort()) ordered[k] = flat[k];
  return unflattenHParams(ordered);
}

function getPath(h: HParams, name: string): unknown {
  let cur: unknown = h;
  for (const part of name.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

/** Maps concrete values to the unit cube (log values in exponent space, categoricals one-hot). */
export function encodeHParams(space: Space, h: HParams): number[] {
  const x = new Array<number>(space.size).fill(0);
  for (const d of space.dims) {
    const s = d.spec;
    const v = getPath(h, d.name);
    switch (s.type) {
      case 'int':
      case 'double':
        x[d.offset] = clamp01(((v as number) - s.minval) / (s.maxval - s.minval));
        break;
      case 'log':
        x[d.offset] = clamp01((Math.log(v as number) / Math.log(s.base) - s.minval) / (s.maxval - s.minval));
        break;
      case 'categorical': {
        const i = s.vals.findIndex((c) => JSON.stringify(c) === JSON.stringify(v));
        if (i >= 0) x[d.offset + i] = 1;
        break;
      }
      default:
        break;
    }
  }
  return x;
}

/** Rounds a relaxed point onto the feasible set (ints, one-hot categoricals). */
export function snapPoint(space: Space, x: number[]): number[] {
  return encodeHParams(space, decodePoint(space, x));
}
