// What the UI reads from an experiment config (no browser): length units, planned trial totals, log-scale
// hyperparameters, and metric labels. The grid's size is checked against the master's own grid.
import { describe, expect, it } from 'vitest';
import { parseExperimentConfig, type ExperimentConfig } from '@hone/protocol';
import { gridAxes, gridSize } from '../../master/src/searcher/hparams';
import { lengthText, lengthUnit, logScaleHparams, plannedTrials } from '../src/experimentConfig';
import { metricLabel } from '../src/format';

function config(searcher: string, hyperparameters: string, extra = ''): ExperimentConfig {
  return parseExperimentConfig(`entrypoint: model:Trial
hyperparameters:
${hyperparameters}
searcher:
  name: ${searcher}
  metric: loss
${extra}`);
}

const GRIDS = [
  '  lr: { type: log, minval: -3, maxval: -2, base: 10, count: 3 }\n  layers: { type: int, minval: 1, maxval: 4 }\n  optimizer: { type: categorical, vals: [adam, sgd] }',
  '  units: { type: int, minval: 1, maxval: 500 }\n  c: { type: const, val: 3 }',
  '  units: { type: int, minval: 1, maxval: 5, count: 4 }\n  dropout: { type: double, minval: 0, maxval: 0.5, count: 2 }',
  '  units: { type: int, minval: 1, maxval: 3, count: 9 }',
  '  units: { type: int, minval: 1, maxval: 10, count: 9 }\n  width: { type: int, minval: 0, maxval: 1000, count: 1 }',
  '  opt:\n    lr: { type: log, minval: -4, maxval: -1, base: 10, count: 4 }\n    momentum: { type: categorical, vals: [0.0, 0.9] }\n  seed: { type: const, val: 1 }',
];

describe('experiment config in the UI', () => {
  it("plans a grid's full size whatever max_trials says, as the master's grid searcher does", () => {
    for (const h of GRIDS) {
      const c = config('grid', h, '  max_length: { batches: 100 }\n  max_trials: 1\n');
      expect(plannedTrials(c)).toBe(gridSize(gridAxes(c.hyperparameters)));
    }
    expect(plannedTrials(config('grid', GRIDS[0]!, '  max_length: { batches: 100 }\n'))).toBe(24);
  });

  it('plans max_trials for random and ASHA searches, and one trial for single', () => {
    expect(plannedTrials(config('random', GRIDS[0]!, '  max_length: { batches: 100 }\n  max_trials: 16\n'))).toBe(16);
    expect(plannedTrials(config('adaptive_asha', GRIDS[0]!, '  max_length: { batches: 100 }\n  max_trials: 64\n'))).toBe(64);
    expect(plannedTrials(config('single', GRIDS[0]!, '  max_length: { batches: 100 }\n'))).toBe(1);
    expect(plannedTrials(undefined)).toBeNull();
  });

  it('counts lengths in the unit of max_length, or the metric of max_time', () => {
    expect(lengthUnit(config('single', GRIDS[1]!, '  max_length: { epochs: 3 }\n'))).toBe('epochs');
    expect(lengthUnit(config('single', GRIDS[1]!, '  max_time: 600\n  time_metric: seconds\n'))).toBe('seconds');
    expect(lengthUnit(undefined)).toBe('');
    expect(lengthText(34000, 40000, 'batches')).toBe('34000 / 40000 batches');
    expect(lengthText(0.5, 3, '')).toBe('0.5 / 3');
  });

  it('finds the log-scale hyperparameters by their dotted names', () => {
    expect([...logScaleHparams(config('random', GRIDS.at(-1)!, '  max_length: { batches: 100 }\n  max_trials: 4\n'))]).toEqual(['opt.lr']);
    expect(logScaleHparams(undefined).size).toBe(0);
  });

  it('names a metric with its group once', () => {
    expect(metricLabel('validation', 'loss')).toBe('validation loss');
    expect(metricLabel('validation', 'validation_mae')).toBe('validation_mae');
    expect(metricLabel('validation', 'val_loss')).toBe('val_loss');
    expect(metricLabel('training', 'training_loss')).toBe('training_loss');
    expect(metricLabel('training', 'validation_mae')).toBe('training validation_mae');
  });
});
