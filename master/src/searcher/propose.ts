// Proposes the next point of a GP-based Bayesian optimisation, shared by the `bayesian` searcher and ASHA's
// `sampler: bayesian`. Pure: everything random comes from the generator passed in, so a proposal is a function of
// (observations, pending points, generator state, warm-start θ).
//
// 1. Fit the GP (Matérn-5/2 ARD, MAP θ) on the observations, warm-started from the previous θ.
// 2. With trials still running (pending points): in up to 3 dimensions (in more, only in the last 40% of the
//    budget), if none of them is near the minimum of the posterior mean, propose that minimum. Otherwise kriging
//    believer: pending points are added with the posterior mean as their value (and EI is measured against the
//    best of observations and fantasies), so parallel proposals spread out instead of piling onto the same optimum;
//    and a hard local penaliser around each pending point (`ParallelStrategy`, default both).
//    Trust region: unless every running trial is already in it, the proposal is confined to a box around the
//    best observation (`trustRadius`: it halves when the incumbent stalls, doubles while it keeps improving), so a
//    batch refines the incumbent as a sequential search would instead of spreading over the cube.
//    Once that region is small, a local GP fitted only on the observations around the incumbent replaces the
//    global one for the proposal when it predicts those observations better (leave-one-out; `localModel`).
// 3. Maximise log expected improvement plus a log-barrier against the box's faces: randomly shifted Halton
//    candidates plus perturbations of the best observations (reflected at the faces, never clipped onto them),
//    then a (1+1)-evolution strategy from the most promising few, the best observation and the best quasi-random
//    candidate.
// 4. Round onto the feasible set (ints, categoricals) and never return an observed, pending or failed point.
import { conditionGp, fitGp, logEI, predictStd, type GpModel } from './gp';
import { cholInverse } from './linalg';
import { snapPoint, type Space } from './hparams';
import { nextFloat, nextNormal, type RngState } from './rng';

export interface ProposeInput {
  space: Space;
  /** Observed points (unit cube) and their losses (smaller is better). */
  X: number[][];
  y: number[];
  /** Points being evaluated now. */
  pending: number[][];
  /** Points that failed; never proposed again. */
  avoid: number[][];
  rng: RngState;
  /** Warm start for the GP hyperparameters (the previous fit). */
  theta?: number[];
  /** Number of observations when `theta` was fitted. */
  fitN?: number;
  /** Share of the trial budget already proposed (0..1), when the caller has one (see `EXPLOIT_LATE`). */
  progress?: number;
}

export interface Proposal {
  x: number[];
  theta: number[];
  /** Number of observations θ was fitted on (carry it to the next call with θ). */
  fitN: number;
}

/**
 * Whether to re-fit θ: always while data is small, then only once the data has grown by 10% since the last fit
 * (the posterior itself is always recomputed from every observation). This keeps a suggestion with hundreds of
 * observations in the tens of milliseconds; θ moves little between such refits.
 */
export function shouldRefit(n: number, theta: number[] | undefined, fitN: number | undefined): boolean {
  if (!theta || fitN === undefined || n <= 50) return true;
  return n >= Math.ceil(fitN * 1.1);
}

export function randomPoint(space: Space, rng: RngState): number[] {
  return snapPoint(space, Array.from({ length: space.size }, () => nextFloat(rng)));
}

export function samePoint(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 1e-9) return false;
  return true;
}

/** Fitting effort: full multi-start while data is small, then warm-started refinement only. */
function fitBudget(n: number, warm: boolean): { randomStarts: number; maxIter: number } {
  if (!warm || n <= 30) return { randomStarts: 1, maxIter: 60 };
  if (n <= 80) return { randomStarts: 0, maxIter: 30 };
  return { randomStarts: 0, maxIter: 12 };
}

/**
 * Monotone output warping before the GP: y ↦ log(y - min(y) + δ), δ a fraction of the spread between the best and
 * the median. Losses often span orders of magnitude (a few diverged trials dwarf the differences near the
 * optimum); the warp keeps the ranking, so EI still looks for the minimum, while the stationary GP fits better.
 */
export function warpLosses(y: number[]): number[] {
  const sorted = [...y].sort((a, b) => a - b);
  const min = sorted[0]!;
  const med = sorted[Math.floor(sorted.length / 2)]!;
  const spread = med - min;
  if (!(spread > 0)) return y.slice();
  const delta = WARP_DELTA * spread;
  return y.map((v) => Math.log(v - min + delta));
}
// δ equal to the best-to-median spread: nearly linear (smooth) around the best values, logarithmic in the tail.
// Smaller δ sharpens the minimum into a cusp the Matérn kernel fits badly.
const WARP_DELTA = 1;

/**
 * How running trials shape the next proposal: `kb` kriging believer only (the posterior mean at each pending point
 * becomes a fantasy observation); `lp` hard local penalisation only (log-EI of the real observations minus, per
 * pending point, a penalty that is infinite at the point and fades out past a ball whose radius is its estimated
 * gap to the incumbent over the function's Lipschitz constant); `kb+lp` both. Tunable for the benchmark.
 */
export type ParallelStrategy = 'kb' | 'lp' | 'kb+lp';
let PARALLEL: ParallelStrategy = 'kb+lp';
/** For benchmarks and tests: choose the parallel strategy (returns the previous one). */
export function setParallelStrategy(p: ParallelStrategy): ParallelStrategy {
  const prev = PARALLEL;
  PARALLEL = p;
  return prev;
}

export function proposeNext(input: ProposeInput): Proposal {
  const { space, X, pending, avoid, rng } = input;
  const y = warpLosses(input.y);
  const taken = [...X, ...pending, ...avoid];
  const budget = fitBudget(X.length, !!input.theta);
  const warm = input.theta;
  const refit = shouldRefit(X.length, warm, input.fitN);
  const global: GpModel = refit
    ? fitGp(X, y, { rng, ...(warm ? { init: warm } : {}), randomStarts: budget.randomStarts, maxIter: budget.maxIter })
    : conditionGp(X, y, warm!);
  // θ of the global fit is what the caller carries to the next call, whichever model proposes.
  const theta = global.theta;
  const fitN = refit ? X.length : input.fitN!;
  const D = space.size;
  const real = pending.length ? (localModel(global, X, y, trustRadius(input.y, D), rng) ?? global) : global;
  let model = real;
  let penalty: ((x: number[]) => number) | undefined;
  if (pending.length) {
    // Parallel exploitation: a proposal refines the minimum of the posterior mean (on real observations) when no
    // running trial is already there, so final convergence does not wait for EI to get back to the incumbent past
    // the fantasies. In more than EXPLOIT_MAX_DIMS dimensions the posterior minimum moves a little with every
    // result, so most of a batch went to it and the search collapsed onto one basin (Ackley-5 and Levy-4 with 8 in
    // flight); there the batch is EI's alone until the last part of the budget (EXPLOIT_LATE), when refining pays.
    if (D <= EXPLOIT_MAX_DIMS || (input.progress ?? 0) >= EXPLOIT_LATE) {
      const xm = posteriorMinimum(space, model, X, y, rng);
      if (!pending.some((p) => distance(p, xm) < EXPLOIT_RADIUS) && !taken.some((t) => samePoint(t, xm))) return { x: xm, theta, fitN };
    }
    if (PARALLEL !== 'lp') {
      // Kriging believer. (Constant liars at the minimum or mean of y, and noisy fantasies, did worse on Branin
      // and Hartmann-6.)
      const beliefs = pending.map((p) => real.yMean + real.yStd * predictStd(real, p).mean);
      model = conditionGp([...real.X, ...pending], [...(real === global ? y : observedLosses(real)), ...beliefs], real.theta);
    }
    if (PARALLEL !== 'kb') penalty = localPenalty(real, pending, rng, D);
  }
  // Improvement over the best of observations and fantasies (standard kriging believer): a fantasy predicted to
  // beat the incumbent raises the bar, so its neighbourhood is not proposed again while it runs.
  let best = Infinity;
  for (let i = 0; i < model.ys.length; i++) best = Math.min(best, model.ys[i]!);
  const edge = edgeBarrier(space);
  const order = X.map((_, i) => i).sort((a, b) => y[a]! - y[b]!);
  // Trust region (TuRBO-like, for parallel proposals only): the box of half-width trustRadius(losses) around the
  // best observation, while some running trial is outside it. With 8 in flight, kriging believer and the penaliser
  // alone sent most of a batch far from the incumbent (a sequential search refines near it), which cost Levy-4
  // and Ackley-5 most of their parallel efficiency.
  const incumbent = X[order[0]!]!;
  let region: number | undefined;
  if (pending.length) {
    const r = trustRadius(input.y, D);
    if (pending.some((p) => !inBox(p, incumbent, r))) region = r;
  }
  const acq = (x: number[]): number => {
    if (region !== undefined && !inBox(x, incumbent, region)) return -Infinity;
    const p = predictStd(model, x);
    const a = logEI(p.mean, p.sd, best) + edge(x);
    return penalty ? a + penalty(x) : a;
  };
  // Candidates: a randomly shifted quasi-random (Halton) set, plus Gaussian perturbations of the best observed
  // points at several scales. Perturbations that overshoot the box are reflected back inside (never clipped onto
  // its faces, where clipping would pile proposals).
  const cands: number[][] = quasiRandom(X.length > 100 ? 150 + 20 * D : Math.max(300, 60 * D), D, rng);
  if (region !== undefined) for (const u of quasiRandom(TRUST_CANDIDATES, D, rng)) cands.push(u.map((v, i) => reflect01(incumbent[i]! + (2 * v - 1) * region!)));
  const quasi = new Set(cands);
  for (const i of order.slice(0, 5)) {
    for (const scale of [0.01, 0.05, 0.15]) {
      for (let k = 0; k < 20; k++) cands.push(X[i]!.map((v) => reflect01(v + scale * nextNormal(rng))));
    }
  }
  const scored = cands.map((x) => ({ x, a: acq(x) })).sort((p, q) => q.a - p.a);
  // Local refinement with a (1+1)-ES (1/5th success rule) from the best few candidates and, as restarts, from the
  // best observation and the best quasi-random candidate (so one basin does not take every start).
  const starts = scored.slice(0, 5);
  const bestObs = X[order[0]!]!;
  starts.push({ x: bestObs.slice(), a: acq(bestObs) });
  const qr = scored.find((c) => quasi.has(c.x));
  if (qr) starts.push(qr);
  const refined: Array<{ x: number[]; a: number }> = [];
  for (const s0 of starts) {
    let cur = s0;
    let step = 0.05;
    for (let it = 0; it < 50 && step > 1e-5; it++) {
      const x = cur.x.map((v) => reflect01(v + step * nextNormal(rng)));
      const a = acq(x);
      if (a > cur.a) {
        cur = { x, a };
        step *= 1.5;
      } else step *= 0.8;
    }
    refined.push(cur);
  }
  const ranked = [...refined, ...scored].sort((p, q) => q.a - p.a);
  for (const c of ranked.slice(0, 50)) {
    if (!Number.isFinite(c.a)) break;
    const x = snapPoint(space, c.x);
    if (!taken.some((t) => samePoint(t, x))) return { x, theta, fitN };
  }
  // Every good candidate rounds onto a point already used (small discrete spaces): fall back to a fresh random one.
  for (let i = 0; i < 200; i++) {
    const x = randomPoint(space, rng);
    if (!taken.some((t) => samePoint(t, x))) return { x, theta, fitN };
  }
  return { x: randomPoint(space, rng), theta, fitN };
}

/** The local model is tried once the trust region's half-width is at most this. */
export const LOCAL_RADIUS = 0.075;
/** The local model's data: observations in the box of LOCAL_BOX times the region's half-width around the incumbent. */
export const LOCAL_BOX = 3;
/** At most this many observations (the nearest to the incumbent) go into the local model. */
export const LOCAL_MAX = 30;

/**
 * A GP fitted only on the observations near the incumbent, for parallel proposals once the trust region has shrunk
 * (half-width r ≤ LOCAL_RADIUS): the LOCAL_MAX observations nearest the best one inside the box of half-width
 * LOCAL_BOX·r around it, when there are at least max(8, 2·dims + 2). The global stationary GP smooths over
 * structure finer than its length scales (Ackley's ripples around its optimum), so the region's proposals drift
 * instead of converging; a local fit can resolve that structure. It replaces the global model only when it predicts
 * those observations better: its mean squared leave-one-out residual on them (closed form, in the units of the
 * warped losses) below the global model's on the same observations. Returns undefined otherwise.
 *
 * Parallel-8, 100 evaluations, median regret over seeds 1-30 / 31-60 (sequential: 0.78 / 0.69): Ackley-5 without
 * 1.68 / 1.94, with 1.39 / 1.74; the local model always (no validation) 1.15 / 2.04 but Levy-4 2.6× sequential
 * (with the validation 0.017 against sequential's 0.038). Hartmann-6 regret at 60: 0.0897 -> 0.067.
 */
export function localModel(global: GpModel, X: number[][], y: number[], r: number, rng: RngState): GpModel | undefined {
  if (r > LOCAL_RADIUS) return undefined;
  const D = X[0]!.length;
  let ib = 0;
  for (let i = 1; i < X.length; i++) if (y[i]! < y[ib]!) ib = i;
  const inc = X[ib]!;
  const near = X.map((_, i) => i)
    .filter((i) => inBox(X[i]!, inc, LOCAL_BOX * r))
    .sort((a, b) => distance(X[a]!, inc) - distance(X[b]!, inc) || a - b)
    .slice(0, LOCAL_MAX);
  if (near.length < Math.max(8, 2 * D + 2)) return undefined;
  const local = fitGp(
    near.map((i) => X[i]!),
    near.map((i) => y[i]!),
    { rng, randomStarts: 1, maxIter: 60 },
  );
  return looError(local, near.map((_, k) => k)) < looError(global, near) ? local : undefined;
}

/** Mean squared leave-one-out residual of the model at its training points `idx`, in the units of its losses. */
export function looError(m: GpModel, idx: number[]): number {
  const n = m.X.length;
  const inv = cholInverse(m.L, n);
  let s = 0;
  for (const i of idx) s += (m.alpha[i]! / inv[i * n + i]!) ** 2;
  return (s / Math.max(1, idx.length)) * m.yStd * m.yStd;
}

/** The losses a model was conditioned on, back in their own units. */
function observedLosses(m: GpModel): number[] {
  return Array.from(m.ys, (v) => m.yMean + m.yStd * v);
}

/** Half-width (unit cube, per coordinate) of the parallel trust region at the start of the search. */
export const TRUST_RADIUS = 0.3;
/** Largest and smallest trust-region half-widths. */
export const TRUST_MAX = 0.4;
export const TRUST_MIN = 0.01;
/** The region halves after this many observations in a row without improvement (at least the dimension). */
export const TRUST_FAIL = 8;
/** The region doubles after this many improving observations in a row. */
export const TRUST_SUCC = 3;
/** Quasi-random candidates drawn inside the trust region (beside the global ones). */
const TRUST_CANDIDATES = 200;

/**
 * Half-width of the parallel trust region after the observed losses `y` (in the order they were observed, the
 * caller's order): TuRBO's success/failure counters replayed over y. From TRUST_RADIUS, each observation that
 * beats the best before it by more than 1e-3 of its magnitude is a success, any other a failure; max(TRUST_FAIL,
 * dims) failures in a row halve the region (TuRBO's failure tolerance with 8 in flight: one batch), TRUST_SUCC
 * successes in a row double it, within [TRUST_MIN, TRUST_MAX]. A function of the losses alone, so the searcher
 * state needs nothing more. The region only binds while some running trial is outside it; once a batch sits in it,
 * the next proposal is free again (exploration continues at about one proposal per batch late in the search).
 *
 * Replaces a fixed schedule (0.3 halved every 16 observations), which shrank the region on Hartmann-6 while its
 * incumbent was still improving in a local basin and kept it there (parallel-8 median regret at 60, 30 seeds:
 * 0.118 with the schedule, 0.0897 with these counters, 0.0945 without a region). Over 30 seeds at 100 evaluations
 * with 8 in flight, schedule against counters: Levy-4 0.060 against 0.015, Rosenbrock-4 2.30 against 2.24,
 * Ackley-5 1.63 against 1.68 (the seeds spread from 0.2 to 13), Branin evaluations to 0.01 32.5 against 33.
 * Counters per batch of 8 (TuRBO's own bookkeeping) did worse (Ackley-5 2.05 over 30 seeds, Levy-4 0.055 over 15),
 * and so did a shrink only after 16 observations without improvement (Ackley-5 1.92 over 30 seeds).
 * ASHA's `sampler: bayesian` passes its rungs, which are sorted by loss, so there nearly every result counts as a
 * failure and the region halves every max(TRUST_FAIL, dims) results, a schedule (its curve benchmark with that
 * sampler, 16 workers, 10 seeds: median regret 0.00125 with the old schedule, 0.00115 with this).
 */
export function trustRadius(y: number[], dims: number): number {
  const fails = Math.max(TRUST_FAIL, dims);
  let r = TRUST_RADIUS;
  let best = Math.min(y[0] ?? Infinity, y[1] ?? Infinity);
  let succ = 0;
  let fail = 0;
  for (let i = 2; i < y.length; i++) {
    const v = y[i]!;
    if (v < best - 1e-3 * Math.abs(best)) {
      succ++;
      fail = 0;
    } else {
      fail++;
      succ = 0;
    }
    best = Math.min(best, v);
    if (succ >= TRUST_SUCC) {
      r = Math.min(TRUST_MAX, 2 * r);
      succ = 0;
    }
    if (fail >= fails) {
      r = Math.max(TRUST_MIN, r / 2);
      fail = 0;
    }
  }
  return r;
}

/** Whether x lies in the box of half-width r around c (per coordinate). */
export function inBox(x: number[], c: number[], r: number): boolean {
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]! - c[i]!) > r) return false;
  return true;
}

/** Width (unit cube) of the band along each face of a continuous dimension where the edge barrier acts. */
export const EDGE_MARGIN = 0.02;

/**
 * Log-barrier against the faces of the box, added to log-EI: Σ log(min(1, v/m, (1-v)/m)) over continuous
 * coordinates (double, log), m = EDGE_MARGIN. Zero inside the band's edge, -∞ on a face. The GP's variance is
 * largest at the faces, so unpenalised EI keeps proposing them (and kriging-believer fantasies pile up there) even
 * where the optimum is interior; an optimum that really lies on a face is still approached to within a fraction of m.
 */
export function edgeBarrier(space: Space): (x: number[]) => number {
  const idx = space.dims.filter((d) => d.spec.type === 'double' || d.spec.type === 'log').map((d) => d.offset);
  return (x) => {
    let s = 0;
    for (const i of idx) {
      const v = x[i]!;
      if (v < EDGE_MARGIN) s += Math.log(Math.max(v, 0) / EDGE_MARGIN);
      else if (v > 1 - EDGE_MARGIN) s += Math.log(Math.max(1 - v, 0) / EDGE_MARGIN);
    }
    return s;
  };
}

/** Reflects v into [0, 1] (folding at both faces), so a step past a face lands inside rather than on it. */
export function reflect01(v: number): number {
  if (v >= 0 && v <= 1) return v;
  const t = Math.abs(v) % 2;
  return t > 1 ? 2 - t : t;
}

/**
 * n points of a Halton sequence in D dimensions, randomised (a random start index and a random Cranley-Patterson
 * rotation per call); dimensions past the prime table are uniform random. Low discrepancy: the candidates cover
 * the cube more evenly than uniform draws.
 */
export function quasiRandom(n: number, D: number, rng: RngState): number[][] {
  const start = Math.floor(nextFloat(rng) * 4096);
  const shift = Array.from({ length: D }, () => nextFloat(rng));
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const p = haltonPoint(start + i, shift);
    for (let d = PRIMES.length; d < D; d++) p[d] = nextFloat(rng);
    out.push(p);
  }
  return out;
}

/**
 * Hard local penaliser (Alvi et al. 2019, after González et al. 2016) for the pending points of a parallel search,
 * in log space: log min(1, ‖x - p‖ / r_p), with r_p = (μ(p) - best + σ(p)) / L, μ and σ the posterior at p (in
 * standardised units), best the incumbent and L an estimate of the posterior mean's Lipschitz constant (the largest
 * gradient norm seen by finite differences at quasi-random points and at the data). Infinite at p itself, so no
 * proposal lands on a running trial, and it fades out where the function cannot beat the incumbent by more than its
 * uncertainty.
 */
export function localPenalty(model: GpModel, pending: number[][], rng: RngState, D: number): (x: number[]) => number {
  let best = Infinity;
  for (let i = 0; i < model.ys.length; i++) best = Math.min(best, model.ys[i]!);
  const L = lipschitz(model, rng, D);
  const balls = pending.map((p) => {
    const q = predictStd(model, p);
    return { p, r: Math.max(1e-6, (Math.max(0, q.mean - best) + q.sd) / L) };
  });
  return (x) => {
    let s = 0;
    for (const b of balls) {
      const d = distance(x, b.p);
      if (d < b.r) s += Math.log(Math.max(d, 1e-300) / b.r);
    }
    return s;
  };
}

/** Largest gradient norm of the posterior mean (standardised) by central differences at sample points. */
export function lipschitz(model: GpModel, rng: RngState, D: number): number {
  const pts = [...quasiRandom(40, D, rng), ...model.X.slice(0, 60)];
  const h = 1e-4;
  let L = 1e-6;
  for (const x of pts) {
    let g2 = 0;
    for (let i = 0; i < D; i++) {
      const a = x.slice();
      const b = x.slice();
      a[i] = Math.min(1, x[i]! + h);
      b[i] = Math.max(0, x[i]! - h);
      const dm = predictStd(model, a).mean - predictStd(model, b).mean;
      g2 += (dm / (a[i]! - b[i]!)) ** 2;
    }
    L = Math.max(L, Math.sqrt(g2));
  }
  return L;
}

/** Up to this many dimensions, parallel proposals may exploit the posterior minimum (see `proposeNext`). */
export const EXPLOIT_MAX_DIMS = 3;
/** Share of the trial budget after which parallel proposals exploit in any number of dimensions. */
export const EXPLOIT_LATE = 0.6;

/** A running trial within this distance (unit cube) of the posterior minimum counts as exploiting it already. */
const EXPLOIT_RADIUS = 0.02;

function distance(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** Minimiser of the posterior mean near the best observations: perturbations at several scales, then a (1+1)-ES. */
function posteriorMinimum(space: Space, model: GpModel, X: number[][], y: number[], rng: RngState): number[] {
  const mu = (x: number[]): number => predictStd(model, x).mean;
  const order = X.map((_, i) => i).sort((a, b) => y[a]! - y[b]!);
  let cur: { x: number[]; m: number } | undefined;
  for (const i of order.slice(0, 3)) {
    for (const scale of [0.01, 0.05, 0.15]) {
      for (let k = 0; k < 20; k++) {
        const x = X[i]!.map((v) => reflect01(v + scale * nextNormal(rng)));
        const m = mu(x);
        if (!cur || m < cur.m) cur = { x, m };
      }
    }
  }
  let step = 0.02;
  for (let it = 0; it < 60 && step > 1e-6; it++) {
    const x = cur!.x.map((v) => reflect01(v + step * nextNormal(rng)));
    const m = mu(x);
    if (m < cur!.m) {
      cur = { x, m };
      step *= 1.5;
    } else step *= 0.8;
  }
  return snapPoint(space, cur!.x);
}

// ---- Quasi-random initial design -----------------------------------------------------------------

const PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113];

function radicalInverse(i: number, base: number): number {
  let f = 1;
  let r = 0;
  while (i > 0) {
    f /= base;
    r += f * (i % base);
    i = Math.floor(i / base);
  }
  return r;
}

/**
 * The index-th point (from 0) of a Halton sequence with a random rotation (Cranley-Patterson: each coordinate
 * shifted by `shift[d]` modulo 1). Dimensions beyond the prime table fall back to the rotation alone, which
 * the caller re-randomises per point.
 */
export function haltonPoint(index: number, shift: number[]): number[] {
  return shift.map((s, d) => {
    const h = d < PRIMES.length ? radicalInverse(index + 1, PRIMES[d]!) : 0;
    const v = h + s;
    return v - Math.floor(v);
  });
}
