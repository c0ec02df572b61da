// Benchmark objectives with known optima, for the searcher benchmark and `hone searcher simulate`.
import type { HParams, Hyperparameters } from '@hone/protocol';

export interface Objective {
  name: string;
  hyperparameters: Hyperparameters;
  /** Metric after training to `length` of `maxLength` (smaller is better). */
  fn: (h: HParams, length: number, maxLength: number) => number;
  /** Noise-free value at full length (for regret). */
  final: (h: HParams) => number;
  optimum: number;
}

const num = (h: HParams, k: string): number => h[k] as number;

function braninXY(x1: number, x2: number): number {
  const b = 5.1 / (4 * Math.PI ** 2);
  return (x2 - b * x1 * x1 + (5 / Math.PI) * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
}

export const branin: Objective = {
  name: 'branin',
  hyperparameters: { x1: { type: 'double', minval: -5, maxval: 10 }, x2: { type: 'double', minval: 0, maxval: 15 } },
  fn: (h) => braninXY(num(h, 'x1'), num(h, 'x2')),
  final: (h) => braninXY(num(h, 'x1'), num(h, 'x2')),
  optimum: 0.397887,
};

const H_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((r) => r.map((v) => v * 1e-4));

function hartmann6X(x: number[]): number {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let e = 0;
    for (let j = 0; j < 6; j++) e += H_A[i]![j]! * (x[j]! - H_P[i]![j]!) ** 2;
    s -= H_ALPHA[i]! * Math.exp(-e);
  }
  return s;
}

const h6 = (h: HParams): number => hartmann6X([0, 1, 2, 3, 4, 5].map((i) => num(h, `x${i}`)));
export const hartmann6: Objective = {
  name: 'hartmann6',
  hyperparameters: Object.fromEntries([0, 1, 2, 3, 4, 5].map((i) => [`x${i}`, { type: 'double' as const, minval: 0, maxval: 1 }])),
  fn: h6,
  final: h6,
  optimum: -3.32237,
};

const quad = (h: HParams): number => (num(h, 'x') - 0.3) ** 2 + 0.5 * (num(h, 'y') + 0.2) ** 2;
export const quadratic: Objective = {
  name: 'quadratic',
  hyperparameters: { x: { type: 'double', minval: -1, maxval: 1 }, y: { type: 'double', minval: -1, maxval: 1 } },
  fn: quad,
  final: quad,
  optimum: 0,
};

/** Deterministic pseudo-noise in [-1, 1) from a string (FNV-1a). */
function hashNoise(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return (h >>> 0) / 2147483648 - 1;
}

/**
 * Synthetic learning curves: a 4-hyperparameter "network" whose validation loss after `length` of `maxLength`
 * is final(h) + A(h)·(√(maxLength/length) - 1)/7 + noise. Low learning rates converge more slowly (larger A),
 * so early rankings are informative but biased, as with real curves. Optimum 0.05.
 */
function curveFinal(h: HParams): number {
  const ulr = (Math.log10(num(h, 'lr')) + 4) / 4;
  const um = num(h, 'momentum') / 0.99;
  const uw = (num(h, 'width') - 8) / 248;
  const ud = num(h, 'dropout') / 0.6;
  return 0.05 + 0.6 * (ulr - 0.55) ** 2 + 0.3 * (um - 0.8) ** 2 + 0.2 * (uw - 0.7) ** 2 + 0.25 * (ud - 0.25) ** 2 + 0.2 * (ulr - 0.55) * (um - 0.8);
}
/** The learning-curve objective with validation noise of ±`noise` (uniform). */
export function makeCurve(noise: number): Objective {
  return {
    name: 'curve',
    hyperparameters: {
      lr: { type: 'log', minval: -4, maxval: 0, base: 10 },
      momentum: { type: 'double', minval: 0, maxval: 0.99 },
      width: { type: 'int', minval: 8, maxval: 256 },
      dropout: { type: 'double', minval: 0, maxval: 0.6 },
    },
    fn: (h, length, maxLength) => {
      const ulr = (Math.log10(num(h, 'lr')) + 4) / 4;
      const a = 0.05 + 0.15 * (1 - ulr);
      const eps = noise * hashNoise(`${JSON.stringify(h)}@${length}`);
      return curveFinal(h) + (a * (Math.sqrt(maxLength / Math.max(1, length)) - 1)) / 7 + eps;
    },
    final: curveFinal,
    optimum: 0.05,
  };
}
export const curve: Objective = makeCurve(0.004);

// ---- Standard test functions on boxes (for bench:searchers) -------------------------------------------------
// Each maps hyperparameters x0..x{d-1} over its box; every optimum is interior (not on the box's edges), and the
// boxes are asymmetric where the textbook one would put the optimum at the centre.

function boxObjective(name: string, box: Array<[number, number]>, f: (x: number[]) => number, optimum: number): Objective {
  const keys = box.map((_, i) => `x${i}`);
  const g = (h: HParams): number => f(keys.map((k) => num(h, k)));
  return {
    name,
    hyperparameters: Object.fromEntries(box.map(([lo, hi], i) => [keys[i]!, { type: 'double' as const, minval: lo, maxval: hi }])),
    fn: g,
    final: g,
    optimum,
  };
}
const rep = (d: number, lo: number, hi: number): Array<[number, number]> => Array.from({ length: d }, () => [lo, hi] as [number, number]);

/** Ackley: many shallow local minima on a funnel; minimum 0 at the origin. Box [-12, 20]^d. */
export function ackleyX(x: number[]): number {
  const d = x.length;
  let s2 = 0;
  let sc = 0;
  for (const v of x) {
    s2 += v * v;
    sc += Math.cos(2 * Math.PI * v);
  }
  return -20 * Math.exp(-0.2 * Math.sqrt(s2 / d)) - Math.exp(sc / d) + 20 + Math.E;
}
export const ackley2 = boxObjective('ackley2', rep(2, -12, 20), ackleyX, 0);
export const ackley5 = boxObjective('ackley5', rep(5, -12, 20), ackleyX, 0);

/** Rastrigin: a regular grid of local minima; minimum 0 at the origin. Box [-4, 5.12]^d. */
export const rastrigin2 = boxObjective('rastrigin2', rep(2, -4, 5.12), (x) => 10 * x.length + x.reduce((s, v) => s + v * v - 10 * Math.cos(2 * Math.PI * v), 0), 0);

/** Levy: minimum 0 at (1, ..., 1). Box [-10, 10]^d. */
export function levyX(x: number[]): number {
  const w = x.map((v) => 1 + (v - 1) / 4);
  const d = w.length;
  let s = Math.sin(Math.PI * w[0]!) ** 2;
  for (let i = 0; i < d - 1; i++) s += (w[i]! - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i]! + 1) ** 2);
  s += (w[d - 1]! - 1) ** 2 * (1 + Math.sin(2 * Math.PI * w[d - 1]!) ** 2);
  return s;
}
export const levy4 = boxObjective('levy4', rep(4, -10, 10), levyX, 0);

/** Styblinski-Tang: minimum -39.16617·d at x_i = -2.903534. Box [-5, 5]^d. */
export const styblinski4 = boxObjective('styblinski4', rep(4, -5, 5), (x) => 0.5 * x.reduce((s, v) => s + v ** 4 - 16 * v * v + 5 * v, 0), -39.16616570377142 * 4);

/** Six-hump camel: two global minima -1.0316285 at (±0.0898, ∓0.7126). Box [-3, 3] × [-2, 2]. */
export const camel6 = boxObjective(
  'camel6',
  [[-3, 3], [-2, 2]],
  ([a, b]) => (4 - 2.1 * a! ** 2 + a! ** 4 / 3) * a! ** 2 + a! * b! + (-4 + 4 * b! ** 2) * b! ** 2,
  -1.031628453489877,
);

/** Rosenbrock: a curved valley; minimum 0 at (1, ..., 1). Box [-5, 10]^d. */
export const rosenbrock4 = boxObjective('rosenbrock4', rep(4, -5, 10), (x) => {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i + 1]! - x[i]! ** 2) ** 2 + (1 - x[i]!) ** 2;
  return s;
}, 0);

const H3_A = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]];
const H3_P = [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]].map((r) => r.map((v) => v * 1e-4));
/** Hartmann-3: minimum -3.86278 at (0.114614, 0.555649, 0.852547). Box [0, 1]^3. */
export const hartmann3 = boxObjective('hartmann3', rep(3, 0, 1), (x) => {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let e = 0;
    for (let j = 0; j < 3; j++) e += H3_A[i]![j]! * (x[j]! - H3_P[i]![j]!) ** 2;
    s -= H_ALPHA[i]! * Math.exp(-e);
  }
  return s;
}, -3.86278214782076);

const SHEKEL_C = [0.1, 0.2, 0.2, 0.4, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5];
const SHEKEL_A = [[4, 4, 4, 4], [1, 1, 1, 1], [8, 8, 8, 8], [6, 6, 6, 6], [3, 7, 3, 7], [2, 9, 2, 9], [5, 5, 3, 3], [8, 1, 8, 1], [6, 2, 6, 2], [7, 3.6, 7, 3.6]];
/** Shekel-10 in 4 dimensions: ten narrow wells; minimum -10.5364 at (4, 4, 4, 4). Box [0, 10]^4. */
export const shekel4 = boxObjective('shekel4', rep(4, 0, 10), (x) => {
  let s = 0;
  for (let i = 0; i < 10; i++) {
    let e = SHEKEL_C[i]!;
    for (let j = 0; j < 4; j++) e += (x[j]! - SHEKEL_A[i]![j]!) ** 2;
    s -= 1 / e;
  }
  return s;
}, -10.536409816692046);

/** The standard test functions of bench:searchers beyond Branin and Hartmann-6. */
export const TEST_FUNCTIONS: Objective[] = [ackley2, ackley5, rastrigin2, levy4, styblinski4, camel6, rosenbrock4, hartmann3, shekel4];

export const OBJECTIVES: Record<string, Objective> = {
  branin,
  hartmann6,
  quadratic,
  curve,
  ...Object.fromEntries(TEST_FUNCTIONS.map((o) => [o.name, o])),
};
