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

export const OBJECTIVES: Record<string, Objective> = { branin, hartmann6, quadratic, curve };
