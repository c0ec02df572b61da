import { describe, expect, it } from 'vitest';
import { simulate } from './simulate';
import { curve } from './objectives';
import { searcherConfig } from './testing';

const hp = { x: { type: 'double' as const, minval: 0, maxval: 1 } };

describe('simulate', () => {
  it('refuses a grid over the limit at once, as the master does at submit', () => {
    const huge = { a: { type: 'double' as const, minval: 0, maxval: 1, count: 1_000_000 }, b: { type: 'double' as const, minval: 0, maxval: 1, count: 1_000_000 } };
    const run = (maxGridPoints?: number) => simulate({ config: searcherConfig({ name: 'grid' }), hyperparameters: huge, objective: () => 0, workers: 2, seed: 1, ...(maxGridPoints ? { maxGridPoints } : {}) });
    expect(() => run()).toThrow(/hyperparameters: a grid over a \(1000000\) × b \(1000000\) has 1,000,000,000,000 points, more than the limit of 10,000/);
    const small = { a: { type: 'double' as const, minval: 0, maxval: 1, count: 3 } };
    expect(simulate({ config: searcherConfig({ name: 'grid' }), hyperparameters: small, objective: () => 0, workers: 2, seed: 1 }).trials).toHaveLength(3);
  });

  it('runs random search on N workers with a simulated clock', () => {
    const r = simulate({ config: searcherConfig({ name: 'random', max_trials: 8, max_concurrent_trials: 4 }), hyperparameters: hp, objective: (h) => h.x as number, workers: 2, seed: 1 });
    expect(r.finished).toBe(true);
    expect(r.trials).toHaveLength(8);
    // 8 trials of 100 units on 2 workers.
    expect(r.wallClock).toBe(400);
    expect(r.evaluations).toBe(8);
    expect(r.unitsTrained).toBe(800);
    expect(r.best!.metric).toBe(Math.min(...r.trials.map((t) => t.metrics[0]!)));
    expect(r.trials.every((t) => t.state === 'completed' && t.lengths[0] === 100)).toBe(true);
  });

  it('charges time per unit by hyperparameters and records errors', () => {
    const r = simulate({
      config: searcherConfig({ name: 'grid', max_concurrent_trials: 1 }),
      hyperparameters: { k: { type: 'categorical', vals: [1, 2, 3] } },
      objective: (h) => h.k as number,
      timePerUnit: (h) => h.k as number,
      fails: (h) => h.k === 1,
      workers: 1,
      seed: 0,
    });
    expect(r.wallClock).toBe(600);
    expect(r.trials.map((t) => t.state)).toEqual(['errored', 'completed', 'completed']);
    expect(r.best!.metric).toBe(2);
  });

  it('reports ASHA rungs and stops at maxTime', () => {
    const config = searcherConfig({ name: 'async_halving', num_rungs: 3, divisor: 4, max_trials: 64, max_concurrent_trials: 8, max_length: { unit: 'batches', value: 256 } });
    const objective = (h: Record<string, unknown>, l: number) => curve.fn(h, l, 256);
    const full = simulate({ config, hyperparameters: curve.hyperparameters, objective, workers: 8, seed: 2 });
    expect(full.finished).toBe(true);
    expect(full.rungs!.map((g) => g.length)).toEqual([16, 64, 256]);
    expect(full.rungs![0]!.results).toBe(64);
    // Asynchronous promotions are irrevocable, so a rung can get a few more than n/divisor trials.
    expect(full.rungs![1]!.results).toBeGreaterThanOrEqual(16);
    expect(full.rungs![1]!.results).toBeLessThanOrEqual(20);
    expect(full.rungs![2]!.results).toBeGreaterThanOrEqual(4);
    expect(full.rungs![2]!.results).toBeLessThanOrEqual(6);
    const cut = simulate({ config, hyperparameters: curve.hyperparameters, objective, workers: 8, seed: 2, maxTime: 100 });
    expect(cut.finished).toBe(false);
    expect(cut.wallClock).toBe(100);
    expect(cut.history.every((h) => h.time <= 100)).toBe(true);
  });
});
