import { describe, expect, it } from 'vitest';
import { initSearcher, stepSearcher } from './index';
import type { BayesState } from './bayesian';
import { haltonPoint } from './propose';
import { levyX } from './objectives';
import { simulate } from './simulate';
import type { SearcherAction } from './types';
import { kinds, roundTrip, searcherConfig } from './testing';

const branin = (h: Record<string, unknown>): number => {
  const x1 = h.x1 as number;
  const x2 = h.x2 as number;
  const b = 5.1 / (4 * Math.PI ** 2);
  return (x2 - b * x1 * x1 + (5 / Math.PI) * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
};
const braninSpace = { x1: { type: 'double' as const, minval: -5, maxval: 10 }, x2: { type: 'double' as const, minval: 0, maxval: 15 } };
const creates = (a: SearcherAction[]) => a.filter((x): x is Extract<SearcherAction, { kind: 'create' }> => x.kind === 'create');

/**
 * Drives a searcher to its end, completing created trials in the order `pick` takes them from those open, and
 * returns every action it asked for; with `restore`, its state goes through JSON before every event.
 */
function driveSearch(
  init: Parameters<typeof initSearcher>[0],
  objective: (h: Record<string, unknown>) => number,
  pick: (open: ReturnType<typeof creates>) => ReturnType<typeof creates>[number],
  restore: boolean,
): SearcherAction[] {
  const { state: s0, actions } = initSearcher(init);
  let state = s0;
  const log = [...actions];
  const open = creates(actions);
  while (open.length) {
    const c = pick(open);
    for (const ev of [
      { kind: 'validationCompleted' as const, requestId: c.requestId, length: 100, metric: objective(c.hparams) },
      { kind: 'trialExited' as const, requestId: c.requestId, reason: 'completed' as const },
    ]) {
      if (restore) state = roundTrip(state);
      const r = stepSearcher(state, ev);
      state = r.state;
      log.push(...r.actions);
      open.push(...creates(r.actions));
    }
  }
  return log;
}

describe('bayesian', () => {
  it('starts with quasi-random points and respects concurrency', () => {
    const init = initSearcher({ config: searcherConfig({ name: 'bayesian', max_trials: 10, max_concurrent_trials: 3 }), hyperparameters: braninSpace, seed: 1 });
    expect(kinds(init.actions)).toEqual(['create:r1', 'train:r1', 'create:r2', 'train:r2', 'create:r3', 'train:r3']);
    expect((init.state as BayesState).initialPoints).toBe(5);
    // Halton points are spread out: no two initial points closer than 0.1 in the unit square.
    const pts = [0, 1, 2, 3, 4].map((i) => haltonPoint(i, [0.3, 0.7]));
    for (let i = 0; i < pts.length; i++) for (let j = i + 1; j < pts.length; j++) {
      expect(Math.hypot(pts[i]![0]! - pts[j]![0]!, pts[i]![1]! - pts[j]![1]!)).toBeGreaterThan(0.1);
    }
  });

  it('finds the Branin minimum far better than its initial design', () => {
    const r = simulate({ config: searcherConfig({ name: 'bayesian', max_trials: 30, max_concurrent_trials: 1 }), hyperparameters: braninSpace, objective: branin, workers: 1, seed: 4 });
    expect(r.finished).toBe(true);
    expect(r.trials).toHaveLength(30);
    const initialBest = Math.min(...r.history.slice(0, 5).map((h) => h.metric));
    expect(r.best!.metric).toBeLessThan(0.5);
    expect(r.best!.metric).toBeLessThan(initialBest);
  });

  it('handles failures: no result, point never proposed again, search still ends', () => {
    const hp = { a: { type: 'int' as const, minval: 0, maxval: 3 }, b: { type: 'categorical' as const, vals: ['x', 'y'] } };
    const r = simulate({
      config: searcherConfig({ name: 'bayesian', max_trials: 8, max_concurrent_trials: 2 }),
      hyperparameters: hp,
      objective: (h) => (h.a as number) + (h.b === 'x' ? 0 : 1),
      fails: (h) => h.a === 0 && h.b === 'y',
      workers: 2,
      seed: 3,
    });
    expect(r.finished).toBe(true);
    const keys = r.trials.map((t) => JSON.stringify(t.hparams));
    // 8 distinct points out of the 8 possible.
    expect(new Set(keys).size).toBe(8);
    expect(r.best!.metric).toBe(0);
  });

  it('larger-is-better metrics are maximised', () => {
    const r = simulate({
      config: searcherConfig({ name: 'bayesian', max_trials: 15, max_concurrent_trials: 1, smaller_is_better: false }),
      hyperparameters: { x: { type: 'double', minval: 0, maxval: 1 } },
      objective: (h) => -(((h.x as number) - 0.7) ** 2),
      workers: 1,
      seed: 2,
    });
    expect(Math.abs((r.best!.hparams.x as number) - 0.7)).toBeLessThan(0.05);
  });

  it('decides identically after JSON save/restore, with parallel pending trials', () => {
    const config = searcherConfig({ name: 'bayesian', max_trials: 12, max_concurrent_trials: 3 });
    // Out of order completion: the second open trial first.
    const run = (restore: boolean) => driveSearch({ config, hyperparameters: braninSpace, seed: 8 }, branin, (open) => open.splice(open.length > 1 ? 1 : 0, 1)[0]!, restore);
    const a = run(false);
    expect(run(true)).toEqual(a);
    expect(a.at(-1)).toEqual({ kind: 'shutdown' });
    // Parallel proposals differ from each other.
    expect(new Set(creates(a).map((c) => JSON.stringify(c.hparams))).size).toBe(12);
  });
});

describe('bayesian with 8 in flight', () => {
  const levySpace = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`x${i}`, { type: 'double' as const, minval: -10, maxval: 10 }]));
  const levy = (h: Record<string, unknown>): number => levyX(Object.values(h) as number[]);

  it('proposes distinct points inside the box, reproducibly, and beats its initial design', () => {
    const config = searcherConfig({ name: 'bayesian', max_trials: 40, max_concurrent_trials: 8 });
    const a = simulate({ config, hyperparameters: levySpace, objective: levy, workers: 8, seed: 5 });
    const b = simulate({ config, hyperparameters: levySpace, objective: levy, workers: 8, seed: 5 });
    expect(a.finished).toBe(true);
    expect(b.trials.map((t) => t.hparams)).toEqual(a.trials.map((t) => t.hparams));
    expect(new Set(a.trials.map((t) => JSON.stringify(t.hparams))).size).toBe(40);
    for (const t of a.trials) for (const v of Object.values(t.hparams) as number[]) expect(v > -10 && v < 10).toBe(true);
    expect(a.best!.metric).toBeLessThan(Math.min(...a.history.slice(0, 9).map((h) => h.metric)));
  });

  it('decides identically after JSON save/restore at every step', () => {
    const config = searcherConfig({ name: 'bayesian', max_trials: 24, max_concurrent_trials: 8 });
    const run = (restore: boolean) => driveSearch({ config, hyperparameters: levySpace, seed: 9 }, levy, (open) => open.shift()!, restore);
    const a = run(false);
    expect(run(true)).toEqual(a);
    expect(new Set(creates(a).map((c) => JSON.stringify(c.hparams))).size).toBe(24);
  });
});

describe('async_halving with sampler: bayesian', () => {
  it('completes and is reproducible under save/restore', () => {
    const config = searcherConfig({ name: 'async_halving', num_rungs: 3, divisor: 3, max_trials: 30, max_concurrent_trials: 3, sampler: 'bayesian' });
    const objective = (h: Record<string, unknown>, len: number) => branin(h) + 30 / len;
    const a = simulate({ config, hyperparameters: braninSpace, objective, workers: 3, seed: 1 });
    const b = simulate({ config, hyperparameters: braninSpace, objective, workers: 3, seed: 1 });
    expect(a.finished).toBe(true);
    expect(a.trials).toHaveLength(30);
    expect(b.trials.map((t) => t.hparams)).toEqual(a.trials.map((t) => t.hparams));
    expect((a.state as { model?: { theta?: number[] } }).model?.theta).toBeDefined();
  });
});
