import { describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { constHyperparameters, mergeOverrides } from './configOverrides';

describe('config overrides', () => {
  it('merges mappings key by key, replaces lists and scalars, and removes keys set to null', () => {
    const base = { name: 'a', searcher: { name: 'random', max_trials: 4, metric: 'loss' }, labels: ['x'], data: { keep: 1 } };
    const out = mergeOverrides(base, { searcher: { max_trials: 8 }, labels: ['y'], data: null });
    expect(out).toEqual({ name: 'a', searcher: { name: 'random', max_trials: 8, metric: 'loss' }, labels: ['y'] });
    expect(base.searcher.max_trials).toBe(4);
  });

  it('turns a trial\'s values, nested ones included, into const specs that reproduce them', () => {
    const hyperparameters = constHyperparameters({ lr: 0.1, opt: { name: 'adam', beta: 0.9 } });
    const config = parseExperimentConfig({ entrypoint: 'model.js', hyperparameters, searcher: { name: 'single', metric: 'loss', max_length: 10 } });
    expect(config.hyperparameters).toEqual({
      lr: { type: 'const', val: 0.1 },
      opt: { type: 'nested', vals: { name: { type: 'const', val: 'adam' }, beta: { type: 'const', val: 0.9 } } },
    });
  });
});
