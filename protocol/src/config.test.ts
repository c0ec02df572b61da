import { describe, expect, it } from 'vitest';
import { ConfigValidationError, parseExperimentConfig } from './config';
import { flattenSpecs, unflattenHParams } from './hyperparameters';

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

describe('experiment config as a Determined user writes it', () => {
  it('accepts environment.environment_variables as environment.variables, in either form, but not both', () => {
    expect(parseExperimentConfig({ ...minimal, environment: { environment_variables: ['A=1', 'B=x=y'] } }).environment.variables).toEqual({ A: '1', B: 'x=y' });
    expect(parseExperimentConfig({ ...minimal, environment: { environment_variables: { C: 3 } } }).environment.variables).toEqual({ C: '3' });
    expect(errorsOf({ ...minimal, environment: { variables: {}, environment_variables: {} } })).toEqual([
      'environment.environment_variables: cannot be combined with environment.variables (they are the same field)',
    ]);
    expect(errorsOf({ ...minimal, environment: { environment_variables: ['no-equals'] } })).toEqual(['environment.environment_variables[0]: must be NAME=value']);
  });

  it("keeps Determined's free-form data and reproducibility.experiment_seed", () => {
    const c = parseExperimentConfig({ ...minimal, data: { url: 'x', n: 2 }, reproducibility: { experiment_seed: 7 } });
    expect(c.data).toEqual({ url: 'x', n: 2 });
    expect(c.reproducibility).toEqual({ experiment_seed: 7 });
    expect(errorsOf({ ...minimal, reproducibility: { experiment_seed: -1 } })).toEqual(['reproducibility.experiment_seed: must be >= 0, got -1']);
  });

  it('names the Determined fields Hone does not support, with why, instead of the list of expected fields', () => {
    const errs = errorsOf({
      ...minimal,
      bind_mounts: [{ host_path: '/data' }],
      environment: { image: 'determinedai/pytorch', pod_spec: {} },
      resources: { shm_size: 4096 },
    });
    expect(errs).toEqual([
      'bind_mounts: not supported by Hone (containers are not used: trials run as processes on the agents)',
      'resources.shm_size: not supported by Hone (containers are not used: trials run as processes on the agents)',
      'environment.image: not supported by Hone (containers are not used: trials run as processes on the agents)',
      'environment.pod_spec: not supported by Hone (containers are not used: trials run as processes on the agents)',
    ]);
  });

  it('lists the expected fields once per mapping, however many unknown fields it has', () => {
    const errs = errorsOf({ ...minimal, resources: { slots: 2, gpus: 1, pool: 'x' } });
    expect(errs).toHaveLength(3);
    expect(errs[0]).toMatch(/^resources\.slots: unknown field \(expected one of: slots_per_trial, resource_pool/);
    expect(errs.slice(1)).toEqual(['resources.gpus: unknown field', 'resources.pool: unknown field']);
  });

  it('says an empty list is empty', () => {
    expect(errorsOf({ ...minimal, hyperparameters: { opt: { type: 'categorical', vals: [] } } })).toEqual([
      'hyperparameters.opt.vals: must be a non-empty list, got an empty list',
    ]);
  });

  it('gives ASHA settings only to the ASHA searchers, with defaults only there', () => {
    const random = parseExperimentConfig({ ...minimal, searcher: { name: 'random', metric: 'loss', max_trials: 4, max_length: 10 } });
    for (const f of ['divisor', 'max_rungs', 'num_rungs', 'mode', 'stop_once', 'sampler']) expect(random.searcher).not.toHaveProperty(f);
    const asha = parseExperimentConfig({ ...minimal, searcher: { name: 'adaptive_asha', metric: 'loss', max_trials: 4, max_length: 16 } });
    expect(asha.searcher).toMatchObject({ divisor: 4, max_rungs: 5, num_rungs: 5, mode: 'standard', stop_once: false, sampler: 'random' });
    expect(errorsOf({ ...minimal, searcher: { name: 'random', metric: 'loss', max_trials: 4, max_length: 10, divisor: 3 } })).toEqual([
      'searcher.divisor: is only for the async_halving and adaptive_asha searchers, not random',
    ]);
  });

  it('refuses an entrypoint that is not JavaScript or TypeScript, saying what Hone runs', () => {
    const [py] = errorsOf({ ...minimal, entrypoint: 'python3 train.py' });
    expect(py).toMatch(/^entrypoint: "python3 train.py" looks like a command; Hone runs TensorFlow.js models written in JavaScript or TypeScript/);
    const [dotPy] = errorsOf({ ...minimal, entrypoint: 'model_def.py:MnistTrial' });
    expect(dotPy).toMatch(/^entrypoint: "model_def.py" is not a JavaScript or TypeScript file/);
    for (const ok of ['model.ts:createTrial', 'train.js', 'model_def:MnistTrial', 'sub/train.mts']) expect(errorsOf({ ...minimal, entrypoint: ok })).toEqual([]);
  });
});

describe('s3 checkpoint storage', () => {
  it('takes bucket, prefix, endpoint_url and region with the GC fields', () => {
    const c = parseExperimentConfig(`
entrypoint: m.ts
searcher: {name: single, metric: loss, max_length: 10}
checkpoint_storage:
  type: s3
  bucket: my-bucket.ckpt
  prefix: /team/hone/
  endpoint_url: http://127.0.0.1:9000
  region: eu-west-1
  save_trial_latest: 2
`);
    expect(c.checkpoint_storage).toEqual({
      type: 's3', bucket: 'my-bucket.ckpt', prefix: 'team/hone', endpoint_url: 'http://127.0.0.1:9000', region: 'eu-west-1',
      save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 2,
    });
    expect(parseExperimentConfig({ ...minimal, checkpoint_storage: { type: 's3', bucket: 'b12' } }).checkpoint_storage).toEqual({
      type: 's3', bucket: 'b12', save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1,
    });
  });

  it('names the field of each mistake', () => {
    const s3 = (extra: Record<string, unknown>) => errorsOf({ ...minimal, checkpoint_storage: { type: 's3', bucket: 'ok-bucket', ...extra } });
    expect(errorsOf({ ...minimal, checkpoint_storage: { type: 's3' } })).toContain('checkpoint_storage.bucket: is required');
    expect(s3({ bucket: '' })).toContain('checkpoint_storage.bucket: must not be empty');
    expect(s3({ bucket: 'My_Bucket' })[0]).toMatch(/^checkpoint_storage.bucket: must be an S3 bucket name/);
    expect(s3({ bucket: 7 })).toContain('checkpoint_storage.bucket: must be a string, got number 7');
    expect(s3({ prefix: 'a/../b' })[0]).toMatch(/^checkpoint_storage.prefix: must be a key prefix/);
    expect(s3({ endpoint_url: 'localhost:9000' })[0]).toMatch(/^checkpoint_storage.endpoint_url: must be an http:\/\/ or https:\/\/ URL/);
    expect(s3({ region: 'US East' })[0]).toMatch(/^checkpoint_storage.region: must be a region name/);
    expect(s3({ host_path: '/x' })[0]).toMatch(/^checkpoint_storage.host_path: unknown field/);
    expect(s3({ save_trial_latest: -1 })).toContain('checkpoint_storage.save_trial_latest: must be >= 0, got -1');
  });
});
