// Limited-memory BFGS with box constraints handled by projection (a light L-BFGS-B): enough for the few
// smooth, low-dimensional problems of the GP (hyperparameter likelihood).

export interface LbfgsOptions {
  lower?: number[];
  upper?: number[];
  maxIter?: number;
  memory?: number;
  /** Stop when the projected gradient's largest entry is below this. */
  gtol?: number;
  /** Stop when the relative decrease of f is below this. */
  ftol?: number;
}

export interface LbfgsResult {
  x: number[];
  f: number;
  iterations: number;
  evaluations: number;
}

export type Objective = (x: number[]) => { f: number; g: number[] };

export function minimizeLbfgs(fg: Objective, x0: number[], opts: LbfgsOptions = {}): LbfgsResult {
  const n = x0.length;
  const lo = opts.lower ?? new Array<number>(n).fill(-Infinity);
  const hi = opts.upper ?? new Array<number>(n).fill(Infinity);
  const maxIter = opts.maxIter ?? 100;
  const m = opts.memory ?? 7;
  const gtol = opts.gtol ?? 1e-6;
  const ftol = opts.ftol ?? 1e-10;
  const proj = (x: number[]): number[] => x.map((v, i) => Math.min(hi[i]!, Math.max(lo[i]!, v)));
  let x = proj(x0);
  let { f, g } = fg(x);
  let evals = 1;
  if (!Number.isFinite(f)) return { x, f, iterations: 0, evaluations: evals };
  const S: number[][] = [];
  const Y: number[][] = [];
  let it = 0;
  const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
  // Components pinned at a bound with the gradient pushing outward take no part in the step.
  const free = (x: number[], g: number[]): boolean[] => x.map((v, i) => !((v <= lo[i]! && g[i]! > 0) || (v >= hi[i]! && g[i]! < 0)));
  for (; it < maxIter; it++) {
    const fr = free(x, g);
    const pg = g.map((v, i) => (fr[i] ? v : 0));
    if (Math.max(...pg.map(Math.abs)) < gtol) break;
    // Two-loop recursion on the free subspace.
    const q = pg.slice();
    const alpha: number[] = [];
    for (let k = S.length - 1; k >= 0; k--) {
      const rho = 1 / dot(Y[k]!, S[k]!);
      const a = rho * dot(S[k]!, q);
      alpha[k] = a;
      for (let i = 0; i < n; i++) q[i] = q[i]! - a * Y[k]![i]!;
    }
    let gamma = 1;
    if (S.length) gamma = dot(S.at(-1)!, Y.at(-1)!) / dot(Y.at(-1)!, Y.at(-1)!);
    for (let i = 0; i < n; i++) q[i] = q[i]! * gamma;
    for (let k = 0; k < S.length; k++) {
      const rho = 1 / dot(Y[k]!, S[k]!);
      const b = rho * dot(Y[k]!, q);
      for (let i = 0; i < n; i++) q[i] = q[i]! + S[k]![i]! * (alpha[k]! - b);
    }
    let d = q.map((v, i) => (fr[i] ? -v : 0));
    if (dot(d, pg) >= 0) {
      d = pg.map((v) => -v);
      S.length = 0;
      Y.length = 0;
    }
    let t = S.length ? 1 : Math.min(1, 1 / Math.max(1e-12, Math.sqrt(dot(pg, pg))));
    let accepted = false;
    let xn = x;
    let fn = f;
    let gn = g;
    for (let ls = 0; ls < 30; ls++) {
      xn = proj(x.map((v, i) => v + t * d[i]!));
      const r = fg(xn);
      evals++;
      const dec = dot(g, xn.map((v, i) => v - x[i]!));
      if (Number.isFinite(r.f) && r.f <= f + 1e-4 * dec) {
        fn = r.f;
        gn = r.g;
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) break;
    const s = xn.map((v, i) => v - x[i]!);
    const y = gn.map((v, i) => v - g[i]!);
    if (dot(s, y) > 1e-12) {
      S.push(s);
      Y.push(y);
      if (S.length > m) {
        S.shift();
        Y.shift();
      }
    }
    const df = f - fn;
    x = xn;
    f = fn;
    g = gn;
    if (df <= ftol * Math.max(1, Math.abs(f))) {
      it++;
      break;
    }
  }
  return { x, f, iterations: it, evaluations: evals };
}
