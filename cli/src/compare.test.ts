import { describe, expect, it } from 'vitest';
import type { TrialComparison } from '@hone/protocol/api';
import { comparisonTable } from './commands/trial';
import { parseModelRef } from './commands/model';

const trial = (id: number, hparams: Record<string, unknown>, loss: number): TrialComparison['trials'][number] =>
  ({
    id, experimentId: 1, requestId: `r${id}`, state: 'COMPLETED', hparams, seed: 1, targetLength: 10, completedLength: 10, trainedLength: 10, restarts: 0,
    failure: null, bestValidation: loss, latestValidation: { validation_loss: loss }, latestTraining: null, latestCheckpoint: null,
    startTime: '2026-01-01T00:00:00.000Z', endTime: null, experimentName: 'e', metric: 'validation_loss', smallerIsBetter: true,
  });

describe('trial compare', () => {
  it('marks the hyperparameters that differ and puts the final metrics side by side', () => {
    const text = comparisonTable({
      trials: [trial(3, { lr: 0.1, opt: { name: 'adam' } }, 0.25), trial(4, { lr: 0.1, opt: { name: 'sgd' } }, 0.5)],
      hparamNames: ['lr', 'opt.name'],
      differingHparams: ['opt.name'],
      metricNames: ['validation_loss'],
    });
    expect(text).toMatch(/\* opt\.name\s*│\s*adam\s*│\s*sgd/);
    expect(text).toMatch(/ {3}lr\s*│\s*0\.10*\s*│\s*0\.10*\s*│/);
    expect(text).toMatch(/│ validation_loss\s*│\s*0\.250*\s*│\s*0\.50*\s*│/);
  });
});

describe('model references', () => {
  it('reads NAME and NAME:VERSION', () => {
    expect(parseModelRef('mnist')).toEqual({ name: 'mnist', version: null });
    expect(parseModelRef('mnist:3')).toEqual({ name: 'mnist', version: 3 });
    expect(() => parseModelRef('mnist:latest')).toThrow('version must be a positive integer (NAME:VERSION), got "latest"');
  });
});
