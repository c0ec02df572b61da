import { describe, expect, it } from 'vitest';
import { parseExperimentConfig } from './config';
import { gridPointCount, gridRefusal } from './grid';

const hp = (h: unknown) =>
  parseExperimentConfig({ entrypoint: 'm.ts:t', searcher: { name: 'grid', metric: 'loss', max_length: 1 }, hyperparameters: h }).hyperparameters;

describe('grid size from counts', () => {
  it('multiplies the value counts of every hyperparameter, nested ones included', () => {
    const h = hp({ lr: { type: 'log', minval: -4, maxval: -1, count: 4 }, opt: { type: 'categorical', vals: ['adam', 'sgd'] }, arch: { layers: { type: 'int', minval: 1, maxval: 3 } }, c: 5 });
    expect(gridPointCount(h)).toBe(4 * 2 * 3);
    expect(gridRefusal(h, 24)).toBeUndefined();
  });

  it('refuses a grid of 10^12 points at once, naming the hyperparameters and the product', () => {
    const h = hp({ a: { type: 'double', minval: 0, maxval: 1, count: 1_000_000 }, b: { type: 'double', minval: 0, maxval: 1, count: 1_000_000 }, k: 1 });
    const started = process.hrtime.bigint();
    const why = gridRefusal(h, 10_000);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
    expect(why).toBe(
      'a grid over a (1000000) × b (1000000) has 1,000,000,000,000 points, more than the limit of 10,000; lower the counts or the number of categorical values (the master\'s --max-grid-points raises the limit)',
    );
  });

  it('caps an int axis without count at 100 values, as the grid searcher does', () => {
    expect(gridPointCount(hp({ n: { type: 'int', minval: 0, maxval: 1_000_000_000 } }))).toBe(100);
  });
});
