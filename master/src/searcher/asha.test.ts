import { describe, expect, it } from 'vitest';
import { initSearcher, searcherProgress, stepSearcher } from './index';
import { adaptiveBrackets, bracketMaxConcurrent, bracketMaxTrials, rungLengths, type AshaState } from './asha';
import type { SearcherAction, SearcherEvent, SearcherState } from './types';
import { eventsFor, kinds, searcherConfig } from './testing';
import { nextFloat, seedRng } from './rng';

const hps = { x: { type: 'double' as const, minval: 0, maxval: 1 } };

function start(over: Parameters<typeof searcherConfig>[0]) {
  return initSearcher({ config: searcherConfig({ name: 'async_halving', ...over }), hyperparameters: hps, seed: 5 });
}

function step(s: SearcherState, e: SearcherEvent) {
  return stepSearcher(s, e);
}

describe('async_halving (promotion mode)', () => {
  it('computes rung lengths as max_length / divisor^k', () => {
    expect(rungLengths(3, 2, 100)).toEqual([25, 50, 100]);
    expect(rungLengths(4, 4, 1000)).toEqual([15, 62, 250, 1000]);
    expect(rungLengths(3, 4, 4)).toEqual([1, 1, 4]);
  });

  it('promotes the top 1/divisor as soon as they exist and creates trials otherwise', () => {
    const init = start({ num_rungs: 3, divisor: 2, max_trials: 4, max_concurrent_trials: 1 });
    expect(init.actions).toMatchObject([{ kind: 'create', requestId: 'r1' }, { kind: 'train', requestId: 'r1', length: 25 }]);
    let s = step(init.state, { kind: 'trialCreated', requestId: 'r1' });
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r1', length: 25, metric: 1 });
    expect(kinds(s.actions)).toEqual(['create:r2', 'train:r2']);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r2', length: 25, metric: 0.5 });
    // r2 is in the top half of 2 results: promoted to rung 1.
    expect(s.actions).toEqual([{ kind: 'train', requestId: 'r2', length: 50 }]);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r2', length: 50, metric: 0.4 });
    expect(kinds(s.actions)).toEqual(['create:r3', 'train:r3']);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r3', length: 25, metric: 2 });
    expect(kinds(s.actions)).toEqual(['create:r4', 'train:r4']);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r4', length: 25, metric: 0.1 });
    // r4 qualifies; rung 0 is now final, so r1 and r3 are stopped.
    expect(kinds(s.actions)).toEqual(['train:r4', 'stop:r1', 'stop:r3']);
    expect(s.actions[0]).toMatchObject({ length: 50 });
    s = step(s.state, { kind: 'trialExited', requestId: 'r1', reason: 'completed' });
    s = step(s.state, { kind: 'trialExited', requestId: 'r3', reason: 'completed' });
    expect(s.actions).toEqual([]);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r4', length: 50, metric: 0.3 });
    expect(kinds(s.actions)).toEqual(['train:r4', 'stop:r2']);
    expect(s.actions[0]).toMatchObject({ length: 100 });
    s = step(s.state, { kind: 'trialExited', requestId: 'r2', reason: 'completed' });
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r4', length: 100, metric: 0.2 });
    expect(kinds(s.actions)).toEqual(['stop:r4']);
    expect(searcherProgress(s.state)).toBeLessThan(1);
    s = step(s.state, { kind: 'trialExited', requestId: 'r4', reason: 'completed' });
    expect(kinds(s.actions)).toEqual(['shutdown']);
    expect(searcherProgress(s.state)).toBe(1);
  });

  it('promotes a waiting trial later, when enough results arrive', () => {
    const init = start({ num_rungs: 2, divisor: 2, max_trials: 3, max_concurrent_trials: 1 });
    let s = step(init.state, { kind: 'validationCompleted', requestId: 'r1', length: 50, metric: 0.1 });
    expect(kinds(s.actions)).toEqual(['create:r2', 'train:r2']);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r2', length: 50, metric: 0.9 });
    // r1 was waiting at rung 0 and now is the top 1 of 2.
    expect(s.actions).toEqual([{ kind: 'train', requestId: 'r1', length: 100 }]);
  });

  it('larger-is-better metrics are ranked the other way', () => {
    const init = start({ num_rungs: 2, divisor: 2, max_trials: 3, max_concurrent_trials: 1, smaller_is_better: false });
    let s = step(init.state, { kind: 'validationCompleted', requestId: 'r1', length: 50, metric: 0.1 });
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r2', length: 50, metric: 0.9 });
    expect(s.actions).toEqual([{ kind: 'train', requestId: 'r2', length: 100 }]);
  });

  it('errored trials count as finished with the worst result and never stall promotion', () => {
    const init = start({ num_rungs: 2, divisor: 2, max_trials: 2, max_concurrent_trials: 2 });
    expect(kinds(init.actions)).toEqual(['create:r1', 'train:r1', 'create:r2', 'train:r2']);
    let s = step(init.state, { kind: 'trialExited', requestId: 'r1', reason: 'errored' });
    expect(s.actions).toEqual([]);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r2', length: 50, metric: 3 });
    expect(s.actions).toEqual([{ kind: 'train', requestId: 'r2', length: 100 }]);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r2', length: 100, metric: 3 });
    expect(kinds(s.actions)).toEqual(['stop:r2']);
    s = step(s.state, { kind: 'trialExited', requestId: 'r2', reason: 'completed' });
    expect(kinds(s.actions)).toEqual(['shutdown']);
  });

  it('an errored trial that qualifies passes through and the search still ends', () => {
    const init = start({ num_rungs: 3, divisor: 2, max_trials: 2, max_concurrent_trials: 2 });
    let s = step(init.state, { kind: 'validationCompleted', requestId: 'r1', length: 25, metric: 1 });
    s = step(s.state, { kind: 'trialExited', requestId: 'r1', reason: 'errored' });
    s = step(s.state, { kind: 'trialExited', requestId: 'r2', reason: 'errored' });
    expect(kinds(s.actions)).toEqual(['shutdown']);
  });

  it('defaults concurrency to divisor^(num_rungs-1) when max_concurrent_trials is 0', () => {
    const init = start({ num_rungs: 3, divisor: 2, max_trials: 10, max_concurrent_trials: 0 });
    expect(init.actions.filter((a) => a.kind === 'create')).toHaveLength(4);
  });
});

describe('async_halving (stop_once)', () => {
  it('stops a trial as soon as it is known not to be in the top fraction, else continues', () => {
    const init = start({ num_rungs: 3, divisor: 2, max_trials: 3, max_concurrent_trials: 1, stop_once: true });
    // First trial is the best so far at every rung: continues to the top, then is stopped.
    let s = step(init.state, { kind: 'validationCompleted', requestId: 'r1', length: 25, metric: 1 });
    expect(s.actions).toEqual([{ kind: 'train', requestId: 'r1', length: 50 }]);
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r1', length: 50, metric: 1 });
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r1', length: 100, metric: 1 });
    expect(kinds(s.actions)).toEqual(['stop:r1']);
    s = step(s.state, { kind: 'trialExited', requestId: 'r1', reason: 'completed' });
    expect(kinds(s.actions)).toEqual(['create:r2', 'train:r2']);
    // Worse than r1: not in the top half of 2; stopped.
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r2', length: 25, metric: 2 });
    expect(kinds(s.actions)).toEqual(['stop:r2']);
    s = step(s.state, { kind: 'trialExited', requestId: 'r2', reason: 'completed' });
    s = step(s.state, { kind: 'validationCompleted', requestId: 'r3', length: 25, metric: 0.5 });
    expect(s.actions).toEqual([{ kind: 'train', requestId: 'r3', length: 50 }]);
  });
});

describe('adaptive_asha', () => {
  it('chooses brackets by mode, most aggressive first', () => {
    const c = (mode: 'aggressive' | 'standard' | 'conservative') =>
      searcherConfig({ name: 'adaptive_asha', mode, max_rungs: 5, divisor: 4, max_trials: 1000, max_length: { unit: 'batches', value: 10000 } });
    expect(adaptiveBrackets(c('aggressive'))).toEqual([5]);
    expect(adaptiveBrackets(c('standard'))).toEqual([5, 4, 3]);
    expect(adaptiveBrackets(c('conservative'))).toEqual([5, 4, 3, 2, 1]);
    // Limited by max_trials: log_4(16) + 1 = 3 rungs.
    expect(adaptiveBrackets({ ...c('conservative'), max_trials: 16 })).toEqual([3, 2, 1]);
    expect(adaptiveBrackets({ ...c('standard'), bracket_rungs: [2, 4] })).toEqual([4, 2]);
  });

  it('splits trials with equal budget per bracket and concurrency evenly', () => {
    const t = bracketMaxTrials(100, 4, [3, 2, 1]);
    expect(t.reduce((a, b) => a + b, 0)).toBe(100);
    // weights 16/3, 4/2, 1/1
    expect(t).toEqual([64, 24, 12]);
    expect(bracketMaxTrials(10, 4, [3, 2, 1])).toEqual([7, 2, 1]);
    expect(bracketMaxConcurrent(8, 4, t)).toEqual([3, 3, 2]);
    expect(bracketMaxConcurrent(0, 4, t)).toEqual([12, 12, 12]);
  });

  it('runs every bracket to completion', () => {
    const config = searcherConfig({
      name: 'adaptive_asha', mode: 'standard', max_rungs: 3, divisor: 2, max_trials: 20, max_concurrent_trials: 4,
      max_length: { unit: 'batches', value: 64 },
    });
    const init = initSearcher({ config, hyperparameters: hps, seed: 9 });
    const r = seedRng(1);
    const log = runFifo(init.state, init.actions, () => nextFloat(r));
    const st = log.state as AshaState;
    expect(st.brackets.map((b) => b.numRungs)).toEqual([3, 2]);
    expect(log.all.filter((a) => a.kind === 'create')).toHaveLength(20);
    expect(log.all.filter((a) => a.kind === 'shutdown')).toHaveLength(1);
    for (const b of st.brackets) expect(b.rungs[b.numRungs - 1]!.length).toBeGreaterThanOrEqual(1);
  });
});

/** Answers every action at once (first in, first out) until the searcher shuts down. */
function runFifo(state: SearcherState, actions: SearcherAction[], metric: () => number) {
  const all = [...actions];
  const queue = [...actions];
  while (queue.length) {
    const a = queue.shift()!;
    for (const e of eventsFor(a, () => metric())) {
      const r = stepSearcher(state, e);
      state = r.state;
      all.push(...r.actions);
      queue.push(...r.actions);
    }
  }
  return { state, all };
}

describe('async_halving full runs', () => {
  it('every trial ends stopped, exactly max_trials are created, about max_trials/divisor^2 reach the top', () => {
    for (const stop_once of [false, true]) {
      const config = searcherConfig({ name: 'async_halving', num_rungs: 3, divisor: 3, max_trials: 27, max_concurrent_trials: 5, stop_once });
      const init = initSearcher({ config, hyperparameters: hps, seed: 2 });
      const r = seedRng(3);
      const { state, all } = runFifo(init.state, init.actions, () => nextFloat(r));
      const st = state as AshaState;
      expect(all.filter((a) => a.kind === 'create')).toHaveLength(27);
      expect(all.filter((a) => a.kind === 'stop')).toHaveLength(27);
      expect(all.at(-1)).toEqual({ kind: 'shutdown' });
      expect(Object.values(st.trials).every((t) => t.status === 'done')).toBe(true);
      const top = st.brackets[0]!.rungs[2]!.length;
      expect(top).toBeGreaterThanOrEqual(stop_once ? 3 : 2);
      expect(top).toBeLessThanOrEqual(stop_once ? 12 : 4);
    }
  });
});
