// Property: a searcher fed a random (but valid) event sequence makes identical decisions whether or not its state is
// round-tripped through JSON at every step, as the master does when it saves state after each step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SearcherConfig } from '@hone/protocol';
import { initSearcher, stepSearcher } from './index';
import type { SearcherAction, SearcherEvent, SearcherState } from './types';
import { roundTrip, searcherConfig } from './testing';

const hps = {
  lr: { type: 'log' as const, minval: -4, maxval: -1, base: 10 },
  width: { type: 'int' as const, minval: 8, maxval: 64 },
  drop: { type: 'double' as const, minval: 0, maxval: 0.5 },
  act: { type: 'categorical' as const, vals: ['relu', 'tanh'] },
};

/**
 * Runs a searcher against a random world: `choices` picks which outstanding piece of work completes next,
 * whether it errors, and the metric it reports. Returns the full action log.
 */
export function replay(config: SearcherConfig, seed: number, choices: number[], restore: boolean): SearcherAction[] {
  const init = initSearcher({ config, hyperparameters: hps, seed });
  let state: SearcherState = init.state;
  const log: SearcherAction[] = [...init.actions];
  // Pending events the world may deliver, in any order per trial (a trial's events stay ordered).
  const pending: SearcherEvent[] = [];
  const exited = new Set<string>();
  const queue = (actions: SearcherAction[]): void => {
    for (const a of actions) {
      if (a.kind === 'create') pending.push({ kind: 'trialCreated', requestId: a.requestId });
      else if (a.kind === 'train') pending.push({ kind: 'validationCompleted', requestId: a.requestId, length: a.length, metric: 0 });
      else if (a.kind === 'stop') pending.push({ kind: 'trialExited', requestId: a.requestId, reason: 'completed' });
    }
  };
  queue(init.actions);
  let i = 0;
  while (pending.length && i < choices.length) {
    const c = choices[i++]!;
    // Deliver the first pending event of some trial.
    const ids = [...new Set(pending.map((e) => e.requestId))];
    const id = ids[c % ids.length]!;
    const idx = pending.findIndex((e) => e.requestId === id);
    let ev = pending.splice(idx, 1)[0]!;
    if (exited.has(id)) continue;
    if (ev.kind === 'validationCompleted') {
      if (c % 17 === 0) {
        // The trial errors instead of validating.
        ev = { kind: 'trialExited', requestId: id, reason: 'errored' };
        for (let k = pending.length - 1; k >= 0; k--) if (pending[k]!.requestId === id) pending.splice(k, 1);
      } else ev = { ...ev, metric: ((c * 7919) % 1000) / 100 + ev.length / 1000 };
    }
    if (ev.kind === 'trialExited') exited.add(id);
    if (restore) state = roundTrip(state);
    const before = restore ? '' : JSON.stringify(state);
    const r = stepSearcher(state, ev);
    // A step never mutates the state it was given.
    if (!restore && JSON.stringify(state) !== before) throw new Error('stepSearcher mutated its input state');
    state = r.state;
    log.push(...r.actions);
    queue(r.actions);
  }
  return log;
}

const configs: Array<[string, Partial<SearcherConfig>]> = [
  ['random', { name: 'random', max_trials: 6, max_concurrent_trials: 3 }],
  ['grid', { name: 'grid', max_concurrent_trials: 2 }],
  ['single', { name: 'single' }],
  ['async_halving', { name: 'async_halving', num_rungs: 3, divisor: 2, max_trials: 10, max_concurrent_trials: 3 }],
  ['async_halving stop_once', { name: 'async_halving', num_rungs: 3, divisor: 2, max_trials: 10, max_concurrent_trials: 3, stop_once: true }],
  ['adaptive_asha', { name: 'adaptive_asha', mode: 'conservative', max_rungs: 3, divisor: 2, max_trials: 12, max_concurrent_trials: 4 }],
  ['bayesian', { name: 'bayesian', max_trials: 9, max_concurrent_trials: 3, initial_points: 3 }],
  ['adaptive_asha bayesian sampler', { name: 'adaptive_asha', max_rungs: 2, divisor: 2, max_trials: 14, max_concurrent_trials: 3, sampler: 'bayesian' }],
];

describe('save/restore replay', () => {
  for (const [name, over] of configs) {
    it(`${name}: identical actions with JSON round-trips at every step`, () => {
      const cfg = searcherConfig(over);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1000 }), fc.array(fc.nat(10_000), { minLength: 5, maxLength: 120 }), (seed, choices) => {
          const a = replay(cfg, seed, choices, false);
          const b = replay(cfg, seed, choices, true);
          expect(b).toEqual(a);
          return true;
        }),
        { numRuns: name.includes('bayesian') ? 10 : 40 },
      );
    });
  }
});
