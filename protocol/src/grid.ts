// Grid sizes from hyperparameter counts alone, never by building the grid: the master refuses a huge grid at
// submit, the simulator before it starts, the UI shows how many trials a grid will make.
import { flattenSpecs, type Hyperparameters, type HyperparameterSpec } from './hyperparameters';

type LeafSpec = Exclude<HyperparameterSpec, { type: 'nested' }>;

/** Default number of points for an int axis without `count` that has more than 100 integers. */
export const GRID_INT_DEFAULT_COUNT = 100;

/** How many values the grid takes for one hyperparameter, without building them (at most; rounding of ints may merge a few). */
export function gridValueCount(spec: LeafSpec): number {
  switch (spec.type) {
    case 'const':
      return 1;
    case 'categorical':
      return spec.vals.length;
    case 'int': {
      const n = spec.maxval - spec.minval + 1;
      return Math.min(n, spec.count ?? (n <= GRID_INT_DEFAULT_COUNT ? n : GRID_INT_DEFAULT_COUNT));
    }
    case 'double':
    case 'log':
      return spec.count ?? 1;
  }
}

/** Default largest grid a master accepts (`--max-grid-points`); Determined's users rarely go past 10^4. */
export const DEFAULT_MAX_GRID_POINTS = 10_000;

/**
 * Why a grid over `h` is refused (more than `max` points), or undefined when it fits. Computed from the counts
 * alone, before anything is built or stored, so a grid of 10^12 points costs nothing to refuse.
 */
export function gridRefusal(h: Hyperparameters, max: number): string | undefined {
  const counts = flattenSpecs(h).map(([name, spec]) => [name, gridValueCount(spec)] as const);
  const total = counts.reduce((n, [, c]) => n * c, 1);
  if (total <= max) return undefined;
  const factors = counts.filter(([, c]) => c > 1).map(([name, c]) => `${name} (${c})`);
  return `a grid over ${factors.join(' × ')} has ${total.toLocaleString('en-US')} points, more than the limit of ${max.toLocaleString('en-US')}; lower the counts or the number of categorical values (the master's --max-grid-points raises the limit)`;
}

/** Points of the full grid over `h` (the product of the value counts). */
export function gridPointCount(h: Hyperparameters): number {
  return flattenSpecs(h).reduce((n, [, spec]) => n * gridValueCount(spec), 1);
}
