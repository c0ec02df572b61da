import { describe, expect, it } from 'vitest';
import { fitGp, kernel, kernelMatrix } from './gp';
import { cholSolve, cholesky } from './linalg';
import { buildSpace } from './hparams';
import { inBox, lipschitz, LOCAL_BOX, LOCAL_MAX, LOCAL_RADIUS, localModel, localPenalty, looError, proposeNext, quasiRandom, reflect01, warpLosses, TRUST_FAIL, TRUST_MAX, TRUST_MIN, TRUST_RADIUS, TRUST_SUCC, trustRadius } from './propose';
import { ackleyX } from './objectives';
import { nextNormal, seedRng } from './rng';

describe('reflect01', () => {
  it('keeps points inside, folds overshoots back without landing on the faces', () => {
    expect(reflect01(0.3)).toBe(0.3);
    expect(reflect01(0)).toBe(0);
    expect(reflect01(-0.2)).toBeCloseTo(0.2, 12);
    expect(reflect01(1.25)).toBeCloseTo(0.75, 12);
    expect(reflect01(2.3)).toBeCloseTo(0.3, 12);
    expect(reflect01(-1.4)).toBeCloseTo(0.6, 12);
    for (let v = -3; v <= 3; v += 0.0137) {
      const r = reflect01(v);
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThanOrEqual(1);
    }
  });
});

describe('quasiRandom', () => {
  it('is deterministic given the generator and covers the cube evenly', () => {
    const a = quasiRandom(256, 3, seedRng(7));
    const b = quasiRandom(256, 3, seedRng(7));
    expect(a).toEqual(b);
    expect(quasiRandom(256, 3, seedRng(8))).not.toEqual(a);
    for (const p of a) for (const v of p) expect(v >= 0 && v < 1).toBe(true);
    // Each of 16 bins per coordinate gets close to its 16 points (uniform draws stray much further).
    for (let d = 0; d < 3; d++) {
      const bins = new Array<number>(16).fill(0);
      for (const p of a) bins[Math.floor(p[d]! * 16)]!++;
      for (const c of bins) expect(Math.abs(c - 16)).toBeLessThanOrEqual(2);
    }
  });

  it('fills dimensions beyond the prime table with random values (not a constant)', () => {
    const pts = quasiRandom(20, 35, seedRng(1));
    const last = new Set(pts.map((p) => p[34]));
    expect(last.size).toBe(20);
  });
});

describe('local penalisation', () => {
  const X = quasiRandom(20, 2, seedRng(3));
  const f = (x: number[]): number => (x[0]! - 0.4) ** 2 + (x[1]! - 0.6) ** 2;
  const y = X.map(f);
  const model = fitGp(X, y, { rng: seedRng(4) });

  it('is -Infinity-like at a pending point, zero far from it, and grows with distance', () => {
    const p = [0.41, 0.59];
    const pen = localPenalty(model, [p], seedRng(5), 2);
    expect(pen(p)).toBeLessThan(-100);
    expect(pen([0.95, 0.05])).toBe(0);
    const near = pen([0.41 + 1e-7, 0.59]);
    const far = pen([0.41 + 1e-5, 0.59]);
    expect(near).toBeLessThan(far);
    expect(far).toBeLessThanOrEqual(0);
  });

  it('estimates a positive Lipschitz constant of the posterior mean', () => {
    expect(lipschitz(model, seedRng(6), 2)).toBeGreaterThan(0);
  });
});

describe('proposeNext', () => {
  const space = buildSpace({ a: { type: 'double', minval: 0, maxval: 1 }, b: { type: 'double', minval: 0, maxval: 1 } });
  // A function whose minimum is in a corner-free interior spot, sampled so the GP's variance is largest at the edges.
  const X = quasiRandom(12, 2, seedRng(11)).map((p) => p.map((v) => 0.25 + 0.5 * v));
  const y = X.map((x) => (x[0]! - 0.45) ** 2 + (x[1]! - 0.55) ** 2);

  it('keeps parallel proposals off the faces of the box and apart from each other', () => {
    const rng = seedRng(12);
    const pending: number[][] = [];
    let theta: number[] | undefined;
    let fitN: number | undefined;
    for (let k = 0; k < 8; k++) {
      const p = proposeNext({ space, X, y, pending, avoid: [], rng, ...(theta ? { theta, fitN: fitN! } : {}) });
      theta = p.theta;
      fitN = p.fitN;
      for (const v of p.x) expect(v > 1e-6 && v < 1 - 1e-6).toBe(true);
      for (const q of pending) expect(Math.hypot(p.x[0]! - q[0]!, p.x[1]! - q[1]!)).toBeGreaterThan(1e-3);
      pending.push(p.x);
    }
  });

  it('in 5 dimensions, with results arriving while 7 trials run, keeps each proposal away from the running ones', () => {
    // Exploiting the posterior minimum here put most proposals within ~0.03 of another running trial (median),
    // the batch collapsing onto one basin; EI with kriging believer and local penalisation keeps them apart.
    const D = 5;
    const space5 = buildSpace(Object.fromEntries(Array.from({ length: D }, (_, i) => [`x${i}`, { type: 'double' as const, minval: 0, maxval: 1 }])));
    const f = (x: number[]) => ackleyX(x.map((v) => -12 + 32 * v));
    const rng = seedRng(3);
    const Xs = quasiRandom(20, D, rng);
    const ys = Xs.map(f);
    const running = quasiRandom(7, D, seedRng(4));
    let theta: number[] | undefined;
    let fitN: number | undefined;
    const nearest: number[] = [];
    for (let k = 0; k < 16; k++) {
      const p = proposeNext({ space: space5, X: Xs, y: ys, pending: running, avoid: [], rng, ...(theta ? { theta, fitN: fitN! } : {}) });
      theta = p.theta;
      fitN = p.fitN;
      nearest.push(Math.min(...running.map((q) => Math.hypot(...q.map((v, i) => v - p.x[i]!)))));
      const done = running.shift()!;
      Xs.push(done);
      ys.push(f(done));
      running.push(p.x);
    }
    nearest.sort((a, b) => a - b);
    expect(nearest[0]).toBeGreaterThan(1e-3);
    expect(nearest[nearest.length >> 1]).toBeGreaterThan(0.08);
  });

  it('is deterministic given the generator', () => {
    const a = proposeNext({ space, X, y, pending: [[0.45, 0.55]], avoid: [], rng: seedRng(1) });
    const b = proposeNext({ space, X, y, pending: [[0.45, 0.55]], avoid: [], rng: seedRng(1) });
    expect(a).toEqual(b);
  });
});

describe('parallel trust region', () => {
  it('starts at TRUST_RADIUS and keeps it while the incumbent improves now and then', () => {
    expect(trustRadius([], 5)).toBe(TRUST_RADIUS);
    expect(trustRadius([3, 2], 5)).toBe(TRUST_RADIUS);
    // An improvement every few results (fewer than TRUST_FAIL failures in a row, never TRUST_SUCC successes).
    const y = [10, 9];
    for (let k = 0; k < 20; k++) y.push(20, 20, 20, 8 - 0.1 * k);
    expect(trustRadius(y, 5)).toBe(TRUST_RADIUS);
  });

  it('halves after TRUST_FAIL results in a row without improvement (at least the dimension), down to TRUST_MIN', () => {
    const stall = (n: number): number[] => [1, 2, ...new Array<number>(n).fill(5)];
    expect(trustRadius(stall(TRUST_FAIL - 1), 5)).toBe(TRUST_RADIUS);
    expect(trustRadius(stall(TRUST_FAIL), 5)).toBe(TRUST_RADIUS / 2);
    expect(trustRadius(stall(2 * TRUST_FAIL + 3), 5)).toBe(TRUST_RADIUS / 4);
    expect(trustRadius(stall(100 * TRUST_FAIL), 5)).toBe(TRUST_MIN);
    // In more dimensions than TRUST_FAIL, the tolerance is the dimension.
    const D = TRUST_FAIL + 4;
    expect(trustRadius(stall(TRUST_FAIL), D)).toBe(TRUST_RADIUS);
    expect(trustRadius(stall(D), D)).toBe(TRUST_RADIUS / 2);
    // A tiny improvement (under 1e-3 of the incumbent) is no success.
    expect(trustRadius([1, 2, ...Array.from({ length: TRUST_FAIL }, (_, i) => 1 - 1e-5 * (i + 1))], 5)).toBe(TRUST_RADIUS / 2);
  });

  it('doubles after TRUST_SUCC improvements in a row, up to TRUST_MAX, and shrinks again once the incumbent stalls', () => {
    const shrunk = [1, 2, ...new Array<number>(3 * TRUST_FAIL).fill(5)];
    expect(trustRadius(shrunk, 5)).toBe(TRUST_RADIUS / 8);
    const improving = [...shrunk, ...Array.from({ length: TRUST_SUCC }, (_, i) => 0.9 - 0.1 * i)];
    expect(trustRadius(improving, 5)).toBe(TRUST_RADIUS / 4);
    const long = [...shrunk, ...Array.from({ length: 10 * TRUST_SUCC }, (_, i) => 0.9 * 0.9 ** i)];
    expect(trustRadius(long, 5)).toBe(TRUST_MAX);
    expect(trustRadius([...long, ...new Array<number>(TRUST_FAIL).fill(5)], 5)).toBe(TRUST_MAX / 2);
  });

  it('confines 5-D parallel proposals to the box around the best observation; they stay distinct, in bounds and deterministic', () => {
    const D = 5;
    const space5 = buildSpace(Object.fromEntries(Array.from({ length: D }, (_, i) => [`x${i}`, { type: 'double' as const, minval: 0, maxval: 1 }])));
    const f = (x: number[]) => ackleyX(x.map((v) => -12 + 32 * v));
    const X = quasiRandom(24, D, seedRng(21));
    const y = X.map(f);
    const best = X[y.indexOf(Math.min(...y))]!;
    const r = trustRadius(y, D);
    const run = (): number[][] => {
      const rng = seedRng(22);
      // Running trials far from the incumbent: the region applies to every proposal.
      const pending = quasiRandom(7, D, seedRng(23)).filter((p) => !inBox(p, best, r));
      const out: number[][] = [];
      let theta: number[] | undefined;
      let fitN: number | undefined;
      for (let k = 0; k < 6; k++) {
        const p = proposeNext({ space: space5, X, y, pending: [...pending, ...out], avoid: [], rng, ...(theta ? { theta, fitN: fitN! } : {}) });
        theta = p.theta;
        fitN = p.fitN;
        out.push(p.x);
      }
      return out;
    };
    const a = run();
    for (const x of a) {
      expect(inBox(x, best, r)).toBe(true);
      for (const v of x) expect(v > 1e-6 && v < 1 - 1e-6).toBe(true);
    }
    for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) expect(Math.hypot(...a[i]!.map((v, k) => v - a[j]![k]!))).toBeGreaterThan(1e-3);
    expect(run()).toEqual(a);
  });
});

describe('local model', () => {
  it('measures the leave-one-out error in closed form, as refitting without each point would', () => {
    const X = quasiRandom(15, 2, seedRng(31));
    const y = X.map((x) => Math.sin(6 * x[0]!) + (x[1]! - 0.3) ** 2);
    const m = fitGp(X, y, { rng: seedRng(32) });
    let brute = 0;
    for (let i = 0; i < X.length; i++) {
      // The zero-mean GP on the model's standardised losses, conditioned on every point but i, predicting at i.
      const others = X.filter((_, j) => j !== i);
      const ys = Array.from(m.ys).filter((_, j) => j !== i);
      const L = cholesky(kernelMatrix(others, m.theta), others.length)!;
      const alpha = cholSolve(L, others.length, ys);
      const mean = others.reduce((s, x, j) => s + kernel(x, X[i]!, m.theta) * alpha[j]!, 0);
      brute += ((m.ys[i]! - mean) * m.yStd) ** 2;
    }
    brute /= X.length;
    expect(looError(m, X.map((_, i) => i))).toBeCloseTo(brute, 6);
    expect(looError(m, [0])).toBeGreaterThan(0);
  });

  // 5-D Ackley: a global design plus a cluster of results around the optimum (unit coordinate 0.375), where the
  // function's ripples are finer than the global model's length scales.
  const D = 5;
  const f = (x: number[]) => ackleyX(x.map((v) => -12 + 32 * v));
  const rng = seedRng(41);
  const X = [...quasiRandom(30, D, rng), ...Array.from({ length: 40 }, () => Array.from({ length: D }, () => reflect01(0.375 + 0.012 * nextNormal(rng))))];
  const y = X.map(f);
  const global = fitGp(X, y, { rng: seedRng(42) });
  const ib = y.indexOf(Math.min(...y));

  it('is fitted only once the region is small, on the nearest observations in the box around the incumbent', () => {
    expect(localModel(global, X, y, LOCAL_RADIUS * 1.01, seedRng(43))).toBeUndefined();
    const r = 0.02;
    const local = localModel(global, X, y, r, seedRng(43));
    expect(local).toBeDefined();
    expect(local!.X.length).toBeLessThanOrEqual(LOCAL_MAX);
    expect(local!.X.length).toBeGreaterThanOrEqual(2 * D + 2);
    expect(local!.X).toContainEqual(X[ib]);
    for (const x of local!.X) expect(inBox(x, X[ib]!, LOCAL_BOX * r)).toBe(true);
    // It replaced the global model because it predicts those observations better.
    const idx = local!.X.map((x) => X.indexOf(x));
    expect(looError(local!, idx.map((_, k) => k))).toBeLessThan(looError(global, idx));
    // Too few observations in a tiny box: no local model.
    expect(localModel(global, X, y, 1e-4, seedRng(43))).toBeUndefined();
    // Deterministic given the generator.
    expect(localModel(global, X, y, r, seedRng(43))!.theta).toEqual(local!.theta);
  });

  it('is not used where the global model predicts the neighbourhood better', () => {
    // A smooth bowl sampled evenly: the global model, with every observation, predicts the ones near the
    // incumbent at least as well as a fit on those alone, which then extrapolates from fewer points.
    const Xs = quasiRandom(60, 2, seedRng(51));
    const ys = Xs.map((x) => (x[0]! - 0.5) ** 2 + (x[1]! - 0.5) ** 2);
    const g = fitGp(Xs, ys, { rng: seedRng(52) });
    const best = Xs[ys.indexOf(Math.min(...ys))]!;
    expect(Xs.filter((x) => inBox(x, best, LOCAL_BOX * LOCAL_RADIUS)).length).toBeGreaterThanOrEqual(8);
    expect(localModel(g, Xs, ys, LOCAL_RADIUS, seedRng(53))).toBeUndefined();
  });

  it('keeps 5-D parallel proposals in the small trust region, distinct and deterministic', () => {
    const space5 = buildSpace(Object.fromEntries(Array.from({ length: D }, (_, i) => [`x${i}`, { type: 'double' as const, minval: 0, maxval: 1 }])));
    const r = trustRadius(y, D);
    expect(r).toBeLessThanOrEqual(LOCAL_RADIUS);
    // The proposals below use the local model (on the warped losses, as proposeNext does).
    const w = warpLosses(y);
    expect(localModel(fitGp(X, w, { rng: seedRng(46) }), X, w, r, seedRng(47))).toBeDefined();
    const run = (): number[][] => {
      const g = seedRng(44);
      const out: number[][] = [];
      const far = [quasiRandom(1, D, seedRng(45))[0]!.map((v) => (v + 0.5) % 1)];
      let theta: number[] | undefined;
      let fitN: number | undefined;
      for (let k = 0; k < 4; k++) {
        const p = proposeNext({ space: space5, X, y, pending: [...far, ...out], avoid: [], rng: g, ...(theta ? { theta, fitN: fitN! } : {}) });
        theta = p.theta;
        fitN = p.fitN;
        out.push(p.x);
      }
      return out;
    };
    const a = run();
    for (const x of a) expect(inBox(x, X[ib]!, r)).toBe(true);
    for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) expect(Math.hypot(...a[i]!.map((v, k) => v - a[j]![k]!))).toBeGreaterThan(1e-6);
    expect(run()).toEqual(a);
  });
});
