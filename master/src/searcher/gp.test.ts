import { describe, expect, it } from 'vitest';
import { cholesky, cholInverse, cholLogDet, cholSolve } from './linalg';
import { minimizeLbfgs } from './lbfgs';
import { defaultTheta, fitGp, logEI, negLogLik, normCdf, normPdf, pairDiffs, predict, standardize } from './gp';
import { nextFloat, seedRng } from './rng';

function randomSpd(n: number, seed: number): Float64Array {
  const r = seedRng(seed);
  const B = Array.from({ length: n * n }, () => nextFloat(r) - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = i === j ? n : 0;
    for (let k = 0; k < n; k++) s += B[i * n + k]! * B[j * n + k]!;
    A[i * n + j] = s;
  }
  return A;
}

describe('linalg', () => {
  it('Cholesky reconstructs A, solves, inverts and gives log det', () => {
    const n = 12;
    const A = randomSpd(n, 3);
    const L = cholesky(A, n)!;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += L[i * n + k]! * L[j * n + k]!;
      expect(s).toBeCloseTo(A[i * n + j]!, 10);
    }
    const b = Array.from({ length: n }, (_, i) => i - 3);
    const x = cholSolve(L, n, b);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[i * n + k]! * x[k]!;
      expect(s).toBeCloseTo(b[i]!, 9);
    }
    const inv = cholInverse(L, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[i * n + k]! * inv[k * n + j]!;
      expect(s).toBeCloseTo(i === j ? 1 : 0, 9);
    }
    // det of diag(2,3) = 6
    expect(cholLogDet(cholesky(Float64Array.from([2, 0, 0, 3]), 2)!, 2)).toBeCloseTo(Math.log(6), 12);
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeNull();
  });
});

describe('lbfgs', () => {
  it('minimises Rosenbrock and respects bounds', () => {
    const rosen = (x: number[]) => {
      const [a, b] = x as [number, number];
      return { f: (1 - a) ** 2 + 100 * (b - a * a) ** 2, g: [-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)] };
    };
    const r = minimizeLbfgs(rosen, [-1.2, 1], { maxIter: 500, gtol: 1e-8, ftol: 0 });
    expect(r.x[0]).toBeCloseTo(1, 4);
    expect(r.x[1]).toBeCloseTo(1, 4);
    const q = minimizeLbfgs((x) => ({ f: (x[0]! - 3) ** 2 + (x[1]! + 1) ** 2, g: [2 * (x[0]! - 3), 2 * (x[1]! + 1)] }), [0, 0], { upper: [1, 5], lower: [-5, -5] });
    expect(q.x[0]).toBeCloseTo(1, 6);
    expect(q.x[1]).toBeCloseTo(-1, 5);
  });
});

describe('gp', () => {
  const r = seedRng(7);
  const X = Array.from({ length: 25 }, () => [nextFloat(r), nextFloat(r), nextFloat(r)]);
  const f = (x: number[]) => Math.sin(6 * x[0]!) + 0.5 * x[1]! * x[1]! + 0.01 * x[2]!;
  const y = X.map(f);

  it('marginal likelihood gradient matches finite differences', () => {
    const { ys } = standardize(y);
    const pd = pairDiffs(X);
    const theta = [0.2, Math.log(0.4), Math.log(0.7), Math.log(1.5), Math.log(0.01)];
    const { f: f0, g } = negLogLik(pd, ys, theta);
    expect(Number.isFinite(f0)).toBe(true);
    for (let j = 0; j < theta.length; j++) {
      const h = 1e-5;
      const tp = theta.slice();
      tp[j]! += h;
      const tm = theta.slice();
      tm[j]! -= h;
      const fd = (negLogLik(pd, ys, tp, false).f - negLogLik(pd, ys, tm, false).f) / (2 * h);
      expect(g[j]).toBeCloseTo(fd, 4);
    }
  });

  it('fits a smooth function: accurate at held-out points, learns an irrelevant dimension is long', () => {
    const m = fitGp(X, y, { rng: seedRng(1), randomStarts: 2 });
    const rr = seedRng(99);
    let err = 0;
    for (let i = 0; i < 50; i++) {
      const x = [0.1 + 0.8 * nextFloat(rr), 0.1 + 0.8 * nextFloat(rr), nextFloat(rr)];
      err = Math.max(err, Math.abs(predict(m, x).mean - f(x)));
    }
    expect(err).toBeLessThan(0.15);
    // Length scale of x2 (nearly irrelevant) exceeds that of x0.
    expect(m.theta[3]!).toBeGreaterThan(m.theta[1]!);
    // Interpolates training data with small noise, sd small there and larger far away.
    const p = predict(m, X[0]!);
    expect(p.mean).toBeCloseTo(y[0]!, 2);
    expect(predict(m, [2, 2, 2]).sd).toBeGreaterThan(10 * p.sd);
  });

  it('is deterministic', () => {
    const a = fitGp(X, y, { rng: seedRng(1), randomStarts: 1 });
    const b = fitGp(X, y, { rng: seedRng(1), randomStarts: 1, init: undefined });
    expect(a.theta).toEqual(b.theta);
    expect(defaultTheta(3)).toHaveLength(5);
  });

  it('log EI equals log of the closed form and stays finite far in the tail', () => {
    for (const [mu, sd, best] of [[0, 1, 0], [1, 0.5, 0.2], [-1, 2, 0], [3, 0.3, 0]] as const) {
      const z = (best - mu) / sd;
      const ei = sd * (z * normCdf(z) + normPdf(z));
      // (at z = -10 the closed form itself loses digits to cancellation)
      expect(logEI(mu, sd, best)).toBeCloseTo(Math.log(ei), 3);
    }
    const far = logEI(50, 1, 0);
    expect(Number.isFinite(far)).toBe(true);
    expect(far).toBeLessThan(logEI(10, 1, 0));
    // Continuous across the switch to the asymptotic form.
    expect(Math.abs(logEI(6.0001, 1, 0) - logEI(5.9999, 1, 0))).toBeLessThan(1e-2);
  });
});
