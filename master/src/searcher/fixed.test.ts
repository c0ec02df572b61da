import { describe, expect, it } from 'vitest';
import { initSearcher, searcherProgress, stepSearcher } from './index';
import type { SearcherAction, SearcherState } from './types';
import { kinds, searcherConfig } from './testing';

const hps = { lr: { type: 'log' as const, minval: -4, maxval: -1, base: 10 }, layers: { type: 'int' as const, minval: 1, maxval: 4 } };

function drive(state: SearcherState, actions: SearcherAction[], metric = (_id: string) => 1) {
  // FIFO: every action is answered immediately, in order.
  const all: SearcherAction[] = [...actions];
  const queue = [...actions];
  let guard = 0;
  while (queue.length && guard++ < 10_000) {
    const a = queue.shift()!;
    const evs =
      a.kind === 'create'
        ? [{ kind: 'trialCreated' as const, requestId: a.requestId }]
        : a.kind === 'train'
          ? [{ kind: 'validationCompleted' as const, requestId: a.requestId, length: a.length, metric: metric(a.requestId) }]
          : a.kind === 'stop'
            ? [{ kind: 'trialExited' as const, requestId: a.requestId, reason: 'completed' as const }]
            : [];
    for (const e of evs) {
      const r = stepSearcher(state, e);
      state = r.state;
      all.push(...r.actions);
      queue.push(...r.actions);
    }
  }
  return { state, all };
}

describe('single', () => {
  it('creates one trial, trains it to the full length, stops it and shuts down', () => {
    const init = initSearcher({ config: searcherConfig({ name: 'single', max_trials: 1 }), hyperparameters: hps, seed: 1 });
    expect(kinds(init.actions)).toEqual(['create:r1', 'train:r1']);
    expect(init.actions[1]).toMatchObject({ length: 100 });
    let s = stepSearcher(init.state, { kind: 'trialCreated', requestId: 'r1' });
    expect(s.actions).toEqual([]);
    s = stepSearcher(s.state, { kind: 'validationCompleted', requestId: 'r1', length: 100, metric: 0.5 });
    expect(kinds(s.actions)).toEqual(['stop:r1']);
    expect(searcherProgress(s.state)).toBeLessThan(1);
    s = stepSearcher(s.state, { kind: 'trialExited', requestId: 'r1', reason: 'completed' });
    expect(kinds(s.actions)).toEqual(['shutdown']);
    expect(searcherProgress(s.state)).toBe(1);
  });

  it('samples log hyperparameters as powers of the base and ints in range', () => {
    for (let seed = 0; seed < 50; seed++) {
      const { actions } = initSearcher({ config: searcherConfig({ name: 'single' }), hyperparameters: hps, seed });
      const h = (actions[0] as Extract<SearcherAction, { kind: 'create' }>).hparams;
      expect(h.lr as number).toBeGreaterThanOrEqual(1e-4);
      expect(h.lr as number).toBeLessThanOrEqual(1e-1);
      expect([1, 2, 3, 4]).toContain(h.layers);
    }
  });
});

describe('random', () => {
  it('respects max_concurrent_trials: a new trial only when a running one exits', () => {
    const init = initSearcher({ config: searcherConfig({ name: 'random', max_trials: 5, max_concurrent_trials: 2 }), hyperparameters: hps, seed: 7 });
    expect(kinds(init.actions)).toEqual(['create:r1', 'train:r1', 'create:r2', 'train:r2']);
    let s = stepSearcher(init.state, { kind: 'validationCompleted', requestId: 'r1', length: 100, metric: 1 });
    expect(kinds(s.actions)).toEqual(['stop:r1']);
    s = stepSearcher(s.state, { kind: 'trialExited', requestId: 'r1', reason: 'completed' });
    expect(kinds(s.actions)).toEqual(['create:r3', 'train:r3']);
    // An errored trial counts as done and frees its slot.
    s = stepSearcher(s.state, { kind: 'trialExited', requestId: 'r2', reason: 'errored' });
    expect(kinds(s.actions)).toEqual(['create:r4', 'train:r4']);
  });

  it('creates max_trials trials in all, all at once when unlimited, then shuts down', () => {
    const init = initSearcher({ config: searcherConfig({ name: 'random', max_trials: 6, max_concurrent_trials: 0 }), hyperparameters: hps, seed: 3 });
    expect(init.actions.filter((a) => a.kind === 'create')).toHaveLength(6);
    const { all } = drive(init.state, init.actions);
    expect(all.filter((a) => a.kind === 'create')).toHaveLength(6);
    expect(all.filter((a) => a.kind === 'stop')).toHaveLength(6);
    expect(all.at(-1)).toEqual({ kind: 'shutdown' });
    expect(all.filter((a) => a.kind === 'shutdown')).toHaveLength(1);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = initSearcher({ config: searcherConfig({ max_trials: 3 }), hyperparameters: hps, seed: 11 });
    const b = initSearcher({ config: searcherConfig({ max_trials: 3 }), hyperparameters: hps, seed: 11 });
    const c = initSearcher({ config: searcherConfig({ max_trials: 3 }), hyperparameters: hps, seed: 12 });
    expect(a).toEqual(b);
    expect(a.actions).not.toEqual(c.actions);
  });

  it('ignores a validation before the full length and events for unknown trials', () => {
    const init = initSearcher({ config: searcherConfig({ max_trials: 1 }), hyperparameters: hps, seed: 1 });
    expect(stepSearcher(init.state, { kind: 'validationCompleted', requestId: 'r1', length: 50, metric: 1 }).actions).toEqual([]);
    expect(stepSearcher(init.state, { kind: 'trialExited', requestId: 'nope', reason: 'errored' }).actions).toEqual([]);
  });
});

describe('grid', () => {
  it('runs the cartesian product of the values', () => {
    const h = {
      a: { type: 'int' as const, minval: 1, maxval: 3 },
      b: { type: 'categorical' as const, vals: ['x', 'y'] },
      c: { type: 'log' as const, minval: -2, maxval: 0, base: 10, count: 3 },
      n: { type: 'nested' as const, vals: { d: { type: 'double' as const, minval: 0, maxval: 1, count: 2 }, k: { type: 'const' as const, val: 5 } } },
    };
    const init = initSearcher({ config: searcherConfig({ name: 'grid', max_concurrent_trials: 0 }), hyperparameters: h, seed: 0 });
    const creates = init.actions.filter((a): a is Extract<SearcherAction, { kind: 'create' }> => a.kind === 'create');
    expect(creates).toHaveLength(3 * 2 * 3 * 2);
    const keys = new Set(creates.map((c) => JSON.stringify(c.hparams)));
    expect(keys.size).toBe(36);
    expect(creates[0]!.hparams).toEqual({ a: 1, b: 'x', c: 0.01, n: { d: 0, k: 5 } });
    expect(creates.map((c) => c.hparams.c)).toContain(1);
    expect(creates.map((c) => c.hparams.c)).toContain(0.1);
  });

  it('uses every integer up to 100 values and spaced values above', () => {
    const small = initSearcher({ config: searcherConfig({ name: 'grid' }), hyperparameters: { a: { type: 'int', minval: 0, maxval: 99 } }, seed: 0 });
    expect(small.actions.filter((a) => a.kind === 'create')).toHaveLength(100);
    const big = initSearcher({ config: searcherConfig({ name: 'grid' }), hyperparameters: { a: { type: 'int', minval: 0, maxval: 1000 } }, seed: 0 });
    const vals = big.actions.flatMap((a) => (a.kind === 'create' ? [a.hparams.a as number] : []));
    expect(vals).toHaveLength(100);
    expect(vals[0]).toBe(0);
    expect(vals.at(-1)).toBe(1000);
    const counted = initSearcher({ config: searcherConfig({ name: 'grid' }), hyperparameters: { a: { type: 'int', minval: 0, maxval: 10, count: 3 } }, seed: 0 });
    expect(counted.actions.flatMap((a) => (a.kind === 'create' ? [a.hparams.a] : []))).toEqual([0, 5, 10]);
  });

  it('limits concurrency and completes', () => {
    const init = initSearcher({
      config: searcherConfig({ name: 'grid', max_concurrent_trials: 2 }),
      hyperparameters: { a: { type: 'categorical', vals: [1, 2, 3, 4, 5] } },
      seed: 0,
    });
    expect(init.actions.filter((a) => a.kind === 'create')).toHaveLength(2);
    const { all } = drive(init.state, init.actions);
    expect(all.filter((a) => a.kind === 'create').map((a) => (a as any).hparams.a)).toEqual([1, 2, 3, 4, 5]);
    expect(all.at(-1)).toEqual({ kind: 'shutdown' });
  });
});
