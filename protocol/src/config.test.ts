import { describe, expect, it } from 'vitest';
import { ConfigValidationError, flattenSpecs, parseExperimentConfig, unflattenHParams } from './config';

const minimal = {
  entrypoint: 'model.ts:createTrial',
  searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 100 } },
};

function errorsOf(raw: unknown): string[] {
  try {
    parseExperimentConfig(raw);
  } catch (e) {
    if (e instanceof ConfigValidationError) return e.errors.map((x) => `${x.path}: ${x.message}`);
    throw e;
  }
  return [];
}

describe('experiment config', () => {
  it('fills Determined-style defaults', () => {
    const c = parseExperimentConfig(minimal);
    expect(c.name).toBe('unnamed');
    expect(c.searcher.smaller_is_better).toBe(true);
    expect(c.searcher.max_length).toEqual({ unit: 'batches', value: 100 });
    expect(c.resources).toEqual({ slots_per_trial: 1, resource_pool: 'default', priority: 42, weight: 1 });
    expect(c.checkpoint_storage).toEqual({ type: 'master', save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 });
    expect(c.max_restarts).toBe(5);
  });

  it('parses YAML text and hyperparameter shapes, including bare constants and nesting', () => {
    const c = parseExperimentConfig(`
entrypoint: m.ts:t
hyperparameters:
  lr: {type: log, minval: -4, maxval: -1}
  layers: {type: int, minval: 1, maxval: 4}
  act: {type: categorical, vals: [relu, tanh]}
  batch: 32
  opt:
    beta1: {type: double, minval: 0.8, maxval: 0.99}
searcher: {name: random, metric: loss, max_trials: 3, max_length: 50}
`);
    expect(c.hyperparameters.lr).toEqual({ type: 'log', minval: -4, maxval: -1, base: 10 });
    expect(c.hyperparameters.batch).toEqual({ type: 'const', val: 32 });
    expect(flattenSpecs(c.hyperparameters).map(([n]) => n)).toEqual(['act', 'batch', 'layers', 'lr', 'opt.beta1']);
    expect(unflattenHParams({ 'opt.beta1': 0.9, lr: 1 })).toEqual({ opt: { beta1: 0.9 }, lr: 1 });
  });

  it('names the field path and what was expected', () => {
    expect(errorsOf({ ...minimal, searcher: { ...minimal.searcher, name: 'random', max_trials: -1 } })).toContain('searcher.max_trials: must be >= 1, got -1');
    expect(errorsOf({ ...minimal, searcher: { ...minimal.searcher, name: 'nope' } })[0]).toMatch(/^searcher.name: must be one of single, random/);
    expect(errorsOf({ ...minimal, searcher: { name: 'single', max_length: 10 } })).toContain('searcher.metric: is required');
    expect(errorsOf({ ...minimal, resources: { priority: 100 } })).toContain('resources.priority: must be <= 99, got 100');
    expect(errorsOf({ ...minimal, hyperparameters: { x: { type: 'double', minval: 2, maxval: 1 } } })).toContain('hyperparameters.x.maxval: must be >= minval (2), got 1');
    expect(errorsOf({ ...minimal, bogus: 1 })[0]).toMatch(/^bogus: unknown field/);
    expect(errorsOf({ ...minimal, checkpoint_storage: { type: 'shared_fs' } })).toContain('checkpoint_storage.host_path: is required');
  });

  it('requires max_length or max_time with time_metric', () => {
    expect(errorsOf({ entrypoint: 'm.ts', searcher: { name: 'single', metric: 'loss' } })[0]).toMatch(/^searcher.max_length: is required/);
    expect(errorsOf({ entrypoint: 'm.ts', searcher: { name: 'single', metric: 'loss', max_time: 10 } })).toContain('searcher.time_metric: is required with max_time');
  });

  it('reports every error at once', () => {
    expect(errorsOf({ searcher: { name: 'random', metric: 'm', max_length: 5 }, max_restarts: 'x' }).length).toBeGreaterThanOrEqual(3);
  });
});
