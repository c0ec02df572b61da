// Gaussian-process regression for Bayesian optimisation.
//
// Kernel: amp · Matérn-5/2 with one length scale per input dimension (ARD), plus a fitted noise term:
//   k(a, b) = amp (1 + √5 r + 5r²/3) exp(-√5 r),   r² = Σᵢ (aᵢ - bᵢ)² / ℓᵢ²,   K = k(X, X) + noise·I.
// Inputs live in [0,1]^d; outputs are standardised (zero mean, unit variance) before fitting.
// Hyperparameters θ = [log amp, log ℓ₁..ℓ_d, log noise] are fitted by maximising the log marginal likelihood
// plus weak log-normal priors (MAP), with multi-start bounded L-BFGS on log-parameters.
import { cholesky, cholInverse, solveLower, solveUpperT } from './linalg';
import { minimizeLbfgs } from './lbfgs';
import { nextFloat, type RngState } from './rng';

const SQRT5 = Math.sqrt(5);
const LOG2PI = Math.log(2 * Math.PI);

/** Bounds of the log-parameters [log amp, log ℓ..., log noise]. */
export function thetaBounds(d: number): { lower: number[]; upper: number[] } {
  return {
    lower: [Math.log(0.05), ...new Array<number>(d).fill(Math.log(0.01)), Math.log(1e-9)],
    upper: [Math.log(20), ...new Array<number>(d).fill(Math.log(20)), Math.log(2)],
  };
}

/** The default starting point: unit amplitude, length scale 0.3, small noise. */
export function defaultTheta(d: number): number[] {
  return [0, ...new Array<number>(d).fill(Math.log(0.3)), Math.log(1e-6)];
}

// Weak priors keep the fit sane with few points: log ℓ ~ N(log 0.3, 1.5²), log amp ~ N(0, 1.5²), log noise ~ N(log 1e-6, 4²)
// (noise is bounded below by 1e-9 of the output variance, so noise-free objectives can be interpolated closely).
const PRIOR_LS_MU = Math.log(0.3);
const PRIOR_LS_SD = 1.5;
const PRIOR_AMP_SD = 1.5;
const PRIOR_NOISE_MU = Math.log(1e-6);
const PRIOR_NOISE_SD = 4;

/** Squared coordinate differences of every pair a < b, computed once per data set. */
export interface PairDiffs {
  n: number;
  d: number;
  /** For pair index p (row-major over a<b), sq[p*d + i] = (X[a][i] - X[b][i])². */
  sq: Float64Array;
}

export function pairDiffs(X: number[][]): PairDiffs {
  const n = X.length;
  const d = n ? X[0]!.length : 0;
  const sq = new Float64Array(((n * (n - 1)) / 2) * d);
  let p = 0;
  for (let a = 0; a < n; a++) {
    const xa = X[a]!;
    for (let b = a + 1; b < n; b++) {
      const xb = X[b]!;
      for (let i = 0; i < d; i++) {
        const t = xa[i]! - xb[i]!;
        sq[p++] = t * t;
      }
    }
  }
  return { n, d, sq };
}

/**
 * Negative log posterior of θ (negative log marginal likelihood + negative log prior) and its gradient.
 * Returns f = Infinity when K is not positive definite.
 */
export function negLogLik(pd: PairDiffs, y: ArrayLike<number>, theta: number[], withGrad = true): { f: number; g: number[] } {
  const { n, d, sq } = pd;
  const amp = Math.exp(theta[0]!);
  const noise = Math.exp(theta[d + 1]!);
  const invl2 = new Float64Array(d);
  for (let i = 0; i < d; i++) invl2[i] = Math.exp(-2 * theta[1 + i]!);
  const K = new Float64Array(n * n);
  const G = withGrad ? new Float64Array((n * (n - 1)) / 2) : undefined; // amp·(5/3)(1+√5r)e^{-√5r}
  let p = 0;
  for (let a = 0; a < n; a++) {
    K[a * n + a] = amp + noise;
    for (let b = a + 1; b < n; b++) {
      let r2 = 0;
      const off = p * d;
      for (let i = 0; i < d; i++) r2 += sq[off + i]! * invl2[i]!;
      const r = Math.sqrt(r2);
      const e = Math.exp(-SQRT5 * r);
      const k = amp * (1 + SQRT5 * r + (5 / 3) * r2) * e;
      K[a * n + b] = k;
      K[b * n + a] = k;
      if (G) G[p] = amp * (5 / 3) * (1 + SQRT5 * r) * e;
      p++;
    }
  }
  const L = cholesky(K, n);
  const g = new Array<number>(d + 2).fill(0);
  if (!L) return { f: Infinity, g };
  const alpha = solveUpperT(L, n, solveLower(L, n, y));
  let f = 0;
  for (let i = 0; i < n; i++) f += 0.5 * y[i]! * alpha[i]! + Math.log(L[i * n + i]!);
  f += 0.5 * n * LOG2PI;
  // Priors.
  const z = (v: number, mu: number, sd: number): number => (v - mu) / sd;
  f += 0.5 * z(theta[0]!, 0, PRIOR_AMP_SD) ** 2 + 0.5 * z(theta[d + 1]!, PRIOR_NOISE_MU, PRIOR_NOISE_SD) ** 2;
  for (let i = 0; i < d; i++) f += 0.5 * z(theta[1 + i]!, PRIOR_LS_MU, PRIOR_LS_SD) ** 2;
  if (!withGrad) return { f, g };
  // dNLL/dθ_j = ½ tr((K⁻¹ - ααᵀ) dK/dθ_j).
  const W = cholInverse(L, n);
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) W[a * n + b] = W[a * n + b]! - alpha[a]! * alpha[b]!;
  let gAmp = 0;
  let gNoise = 0;
  for (let a = 0; a < n; a++) {
    gAmp += 0.5 * W[a * n + a]! * amp;
    gNoise += 0.5 * W[a * n + a]! * noise;
  }
  const gLs = new Float64Array(d);
  p = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const w = W[a * n + b]!; // counted twice (a,b) and (b,a): ½·2 = 1
      gAmp += w * K[a * n + b]!;
      const wg = w * G![p]!;
      const off = p * d;
      for (let i = 0; i < d; i++) gLs[i] = gLs[i]! + wg * sq[off + i]!;
      p++;
    }
  }
  g[0] = gAmp + z(theta[0]!, 0, PRIOR_AMP_SD) / PRIOR_AMP_SD;
  for (let i = 0; i < d; i++) g[1 + i] = gLs[i]! * invl2[i]! + z(theta[1 + i]!, PRIOR_LS_MU, PRIOR_LS_SD) / PRIOR_LS_SD;
  g[d + 1] = gNoise + z(theta[d + 1]!, PRIOR_NOISE_MU, PRIOR_NOISE_SD) / PRIOR_NOISE_SD;
  return { f, g };
}

export interface FitOptions {
  rng: RngState;
  /** Warm start (e.g. the previous fit); always tried first. */
  init?: number[];
  /** Extra random starts besides the warm start and the default. */
  randomStarts?: number;
  maxIter?: number;
}

/** A fitted GP. Predictions are in the original units of y. */
export interface GpModel {
  X: number[][];
  theta: number[];
  L: Float64Array;
  alpha: Float64Array;
  yMean: number;
  yStd: number;
  /** Standardised training targets. */
  ys: Float64Array;
  /** exp(-2 log ℓᵢ), cached for fast kernel evaluation. */
  invl2: Float64Array;
  /** Training inputs, flattened row-major (n × d). */
  xflat: Float64Array;
}

export function standardize(y: number[]): { ys: Float64Array; mean: number; std: number } {
  const n = y.length;
  const mean = y.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const v = y.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n);
  const std = Math.sqrt(v) > 1e-12 ? Math.sqrt(v) : 1;
  return { ys: Float64Array.from(y, (t) => (t - mean) / std), mean, std };
}

/** Fits θ by multi-start L-BFGS; deterministic given the options (the rng is advanced). */
export function fitGp(X: number[][], y: number[], opts: FitOptions): GpModel {
  const d = X[0]!.length;
  const { ys } = standardize(y);
  const pd = pairDiffs(X);
  const { lower, upper } = thetaBounds(d);
  const starts: number[][] = [];
  if (opts.init && opts.init.length === d + 2) starts.push(opts.init);
  starts.push(defaultTheta(d));
  for (let s = 0; s < (opts.randomStarts ?? 1); s++) {
    starts.push([
      (nextFloat(opts.rng) - 0.5) * 2,
      ...Array.from({ length: d }, () => Math.log(0.05) + nextFloat(opts.rng) * (Math.log(2) - Math.log(0.05))),
      Math.log(1e-5) + nextFloat(opts.rng) * (Math.log(0.1) - Math.log(1e-5)),
    ]);
  }
  let best: { x: number[]; f: number } = { x: defaultTheta(d), f: Infinity };
  for (const s of starts) {
    const r = minimizeLbfgs((t) => negLogLik(pd, ys, t), s, { lower, upper, maxIter: opts.maxIter ?? 60, ftol: 1e-7, gtol: 1e-4 });
    if (r.f < best.f) best = { x: r.x, f: r.f };
  }
  return conditionGp(X, y, best.x);
}

/** Builds the posterior for fixed θ (adds jitter to the noise if K is not positive definite). */
export function conditionGp(X: number[][], y: number[], theta: number[], extraNoise?: number[]): GpModel {
  const { ys, mean, std } = standardize(y);
  const n = X.length;
  const d = X[0]!.length;
  let th = theta.slice();
  for (let attempt = 0; attempt < 8; attempt++) {
    const K = kernelMatrix(X, th);
    if (extraNoise) for (let i = 0; i < n; i++) K[i * n + i] = K[i * n + i]! + (extraNoise[i] ?? 0);
    const L = cholesky(K, n);
    if (L) {
      const alpha = solveUpperT(L, n, solveLower(L, n, ys));
      const invl2 = Float64Array.from({ length: d }, (_, i) => Math.exp(-2 * th[1 + i]!));
      const xflat = new Float64Array(n * d);
      X.forEach((x, a) => xflat.set(x, a * d));
      return { X, theta: th, L, alpha, yMean: mean, yStd: std, ys, invl2, xflat };
    }
    th = th.slice();
    th[d + 1] = Math.log(Math.exp(th[d + 1]!) * 10 + 1e-8);
  }
  throw new Error('GP: kernel matrix is not positive definite');
}

export function kernel(a: ArrayLike<number>, b: ArrayLike<number>, theta: number[]): number {
  const d = a.length;
  let r2 = 0;
  for (let i = 0; i < d; i++) {
    const t = a[i]! - b[i]!;
    r2 += (t * t) * Math.exp(-2 * theta[1 + i]!);
  }
  const r = Math.sqrt(r2);
  return Math.exp(theta[0]!) * (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
}

export function kernelMatrix(X: number[][], theta: number[]): Float64Array {
  const n = X.length;
  const d = X[0]!.length;
  const noise = Math.exp(theta[d + 1]!);
  const amp = Math.exp(theta[0]!);
  const invl2 = Float64Array.from({ length: d }, (_, i) => Math.exp(-2 * theta[1 + i]!));
  const K = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    K[a * n + a] = amp + noise;
    const xa = X[a]!;
    for (let b = a + 1; b < n; b++) {
      const xb = X[b]!;
      let r2 = 0;
      for (let i = 0; i < d; i++) {
        const t = xa[i]! - xb[i]!;
        r2 += t * t * invl2[i]!;
      }
      const r = Math.sqrt(r2);
      const k = amp * (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
      K[a * n + b] = k;
      K[b * n + a] = k;
    }
  }
  return K;
}

/** Posterior mean and standard deviation of the latent function, in standardised units. */
export function predictStd(m: GpModel, x: ArrayLike<number>): { mean: number; sd: number } {
  const n = m.X.length;
  const d = m.invl2.length;
  const amp = Math.exp(m.theta[0]!);
  const { xflat, invl2, L } = m;
  const k = new Float64Array(n);
  let mean = 0;
  for (let a = 0; a < n; a++) {
    let r2 = 0;
    const off = a * d;
    for (let i = 0; i < d; i++) {
      const t = x[i]! - xflat[off + i]!;
      r2 += t * t * invl2[i]!;
    }
    const r = Math.sqrt(r2);
    const kv = amp * (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
    k[a] = kv;
    mean += kv * m.alpha[a]!;
  }
  // v = L⁻¹ k, in place.
  let vv = 0;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = k[i]!;
    for (let j = 0; j < i; j++) s -= L[ri + j]! * k[j]!;
    s /= L[ri + i]!;
    k[i] = s;
    vv += s * s;
  }
  const variance = Math.max(1e-12, amp - vv);
  return { mean, sd: Math.sqrt(variance) };
}

/** Posterior mean and standard deviation in the original units of y. */
export function predict(m: GpModel, x: ArrayLike<number>): { mean: number; sd: number } {
  const p = predictStd(m, x);
  return { mean: m.yMean + m.yStd * p.mean, sd: m.yStd * p.sd };
}

// ---- Expected improvement ------------------------------------------------------------------------

/** Complementary error function (Numerical Recipes' erfcc; relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export const normCdf = (z: number): number => 0.5 * erfc(-z / Math.SQRT2);
export const normPdf = (z: number): number => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);

/** log(φ(z) + zΦ(z)), accurate for very negative z where EI underflows. */
export function logH(z: number): number {
  if (z > -6) return Math.log(normPdf(z) + z * normCdf(z));
  const z2 = z * z;
  return -0.5 * z2 - 0.5 * Math.log(2 * Math.PI) + Math.log(1 / z2 - 3 / (z2 * z2) + 15 / (z2 * z2 * z2));
}

/** log expected improvement below `best` (minimisation) for a Gaussian with this mean and sd. */
export function logEI(mean: number, sd: number, best: number): number {
  const z = (best - mean) / sd;
  return Math.log(sd) + logH(z);
}
