import { describe, expect, it } from 'vitest';
import type { AllocationSummary, ExperimentDetail, TrialDetail, TrialSummary } from '@hone/protocol/api';
import { parseExperimentConfig } from '@hone/protocol/config';
import { describeExperiment, describeTrial, lengthUnit } from './describe';

const config = parseExperimentConfig({
  name: 'mnist',
  entrypoint: 'model.ts:createTrial',
  searcher: { name: 'random', metric: 'validation_loss', max_trials: 2, max_length: { batches: 40000 } },
});

function trial(over: Partial<TrialSummary> = {}): TrialSummary {
  return {
    id: 7, experimentId: 6, requestId: 'r1', state: 'ACTIVE', hparams: { lr: 0.01 }, seed: 1,
    targetLength: 40000, completedLength: 0, trainedLength: 12000, restarts: 0, failure: null,
    bestValidation: 0.25, latestValidation: { validation_loss: 0.25 }, latestTraining: null, latestCheckpoint: null,
    startTime: '2026-01-02T03:04:05.000Z', endTime: null, ...over,
  };
}

function experiment(trials: TrialSummary[]): ExperimentDetail {
  return {
    id: 6, name: 'mnist', state: 'ACTIVE', searcher: 'random', metric: 'validation_loss', smallerIsBetter: true, resourcePool: 'default',
    priority: 42, weight: 1, maxSlots: null, numTrials: trials.length, trialStates: {}, bestMetric: 0.25, progress: 0.3, user: 'admin',
    labels: [], startTime: '2026-01-02T03:04:05.000Z', endTime: null, config, configYaml: '', trials,
    description: '', project: 'default', archived: false, forkedFrom: null, sourceTrialId: null, notes: '', sourceCheckpointUuid: null,
  };
}

function run(over: Partial<AllocationSummary>): AllocationSummary {
  return {
    id: 'a1', state: 'TERMINATED', slots: 1, agents: ['gpu-1'], createdAt: '2026-01-02T03:04:00.000Z', startedAt: '2026-01-02T03:04:05.000Z',
    endedAt: '2026-01-02T03:05:07.000Z', exitCode: 1, exitReason: 'rank 0 exited with 1', lastError: 'Error: CUDA out of memory', failed: true, ...over,
  };
}

describe('experiment describe', () => {
  it('shows the length trained so far in the searcher unit, the progress and the best metric while a trial trains', () => {
    const text = describeExperiment(experiment([trial()]));
    expect(text).toContain('Progress: 30%');
    expect(text).toMatch(/Best: 0\.25000/);
    expect(text).toContain('Length (batches)');
    expect(text).toContain('12000/40000');
  });

  it('never shows less than the validated length (a master without trainedLength)', () => {
    const { trainedLength: _t, ...old } = trial({ completedLength: 300 });
    expect(describeExperiment(experiment([old as TrialSummary]))).toContain('300/40000');
  });

  it('says why errored and retried trials failed', () => {
    const text = describeExperiment(
      experiment([trial({ id: 8, state: 'ERROR', restarts: 5, failure: 'rank 0 exited with 1: Error: boom' }), trial({ id: 9, restarts: 1, failure: 'lost agent gpu-3' }), trial({ id: 10 })]),
    );
    expect(text).toContain('Failures:');
    expect(text).toContain('Trial 8 (ERROR, 5 restarts): rank 0 exited with 1: Error: boom');
    expect(text).toContain('Trial 9 (ACTIVE, 1 restart): lost agent gpu-3');
    expect(text).not.toContain('Trial 10 (');
  });

  it('has no failures section when nothing failed', () => {
    expect(describeExperiment(experiment([trial()]))).not.toContain('Failures:');
  });

  it('shows the owner and who did what, and when, oldest first', () => {
    const text = describeExperiment({
      ...experiment([trial()]),
      user: 'alice',
      audit: [
        { at: '2026-01-02T03:04:05.000Z', username: 'alice', action: 'create', details: { name: 'mnist' } },
        { at: '2026-01-02T03:10:00.000Z', username: 'admin', action: 'set max_slots', details: { from: null, to: 4 } },
        { at: '2026-01-02T03:20:00.000Z', username: 'admin', action: 'pause', details: {} },
      ],
    });
    expect(text).toContain('Owner:     alice');
    expect(text).toContain('Activity (oldest first):');
    const rows = text.split('\n').filter((l) => /^│ 2026-01-02/.test(l));
    expect(rows[0]).toMatch(/03:04:05 .*│ alice .*│ create .*│ name=mnist/);
    expect(rows[1]).toMatch(/03:10:00 .*│ admin .*│ set max_slots .*│ from none to 4/);
    expect(rows[2]).toMatch(/03:20:00 .*│ admin .*│ pause /);
  });

  it('has no activity section for a master that keeps no audit', () => {
    expect(describeExperiment(experiment([trial()]))).not.toContain('Activity');
  });
});

describe('trial describe', () => {
  const detail = (over: Partial<TrialDetail> = {}): TrialDetail => ({
    ...trial(), checkpoints: [], allocations: [], reproducibility: null, sourceCheckpointUuid: null, sourceTrialId: null, ...over,
  });

  it('shows the length trained so far with its unit and progress', () => {
    expect(describeTrial(detail(), lengthUnit(config))).toContain('Length: 12000/40000 batches (30%)');
  });

  it('shows the failure and one line per run: when, where, how it ended, the last error line', () => {
    const text = describeTrial(
      detail({
        state: 'ERROR',
        restarts: 1,
        failure: 'rank 0 exited with 1: Error: CUDA out of memory',
        allocations: [
          run({ id: 'a1', agents: ['gpu-1'], lastError: 'Error: CUDA out of memory\n    at train' }),
          run({ id: 'a2', agents: ['gpu-2', 'gpu-3'], slots: 2, startedAt: '2026-01-02T03:06:00.000Z', exitReason: 'lost agent gpu-3', exitCode: null, lastError: null }),
          run({ id: 'a3', state: 'RUNNING', endedAt: null, exitCode: null, exitReason: null, lastError: null, failed: false }),
        ],
      }),
      'batches',
    );
    expect(text).toContain('Failure: rank 0 exited with 1: Error: CUDA out of memory');
    expect(text).toContain('Runs (restart history, oldest first):');
    const rows = text.split('\n').filter((l) => /^│ [123] /.test(l));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/2026-01-02 03:04:05 .*1m02s .*gpu-1 .*rank 0 exited with 1 \(failed\) .*Error: CUDA out of memory at train/);
    expect(rows[1]).toMatch(/2026-01-02 03:06:00 .*gpu-2, gpu-3 .* 2 .*lost agent gpu-3 \(failed\)/);
    expect(rows[2]).toMatch(/RUNNING/);
  });

  it('uses max_time\'s metric as the unit', () => {
    const timed = parseExperimentConfig({ entrypoint: 'train.ts', searcher: { name: 'single', metric: 'loss', max_time: 100, time_metric: 'records' } });
    expect(lengthUnit(timed)).toBe('records');
  });

  it('shows where the trial started from and its reproducibility record', () => {
    const text = describeTrial(
      detail({
        sourceCheckpointUuid: '0f3c0000-0000-4000-8000-000000000000',
        sourceTrialId: 3,
        reproducibility: {
          contextDigest: 'ab'.repeat(32), configYaml: 'name: mnist\n', seed: 1, hparams: { lr: 0.01 }, placement: [{ agentId: 'gpu-1', devices: [0, 1] }],
          devices: [{ agentId: 'gpu-1', id: 0, type: 'gpu', brand: 'H100' }, { agentId: 'gpu-1', id: 1, type: 'gpu', brand: 'H100' }],
          harnessVersion: '0.1.0', tfjsVersion: '4.22.0', backend: 'tensorflow', nodeVersion: 'v20.19.0', allocationId: 'a1', recordedAt: '2026-01-02T03:04:05.000Z',
        },
      }),
      'batches',
    );
    expect(text).toContain('Started from: checkpoint 0f3c0000-0000-4000-8000-000000000000 of trial 3');
    expect(text).toContain(`Model directory: sha256:${'ab'.repeat(32)}`);
    expect(text).toContain('Harness: 0.1.0    TensorFlow.js: 4.22.0    Backend: tensorflow    Node.js: v20.19.0');
    expect(text).toContain('Agents and devices: gpu-1:gpu0 (H100), gpu-1:gpu1 (H100)');
  });
});

describe('experiment describe, managed', () => {
  it('shows the project, archive, labels, where it came from and the notes', () => {
    const d = { ...experiment([trial()]), project: 'vision', archived: true, labels: ['paper'], forkedFrom: 2, sourceTrialId: 3, notes: '# Plan\ntry lr 0.1' };
    const text = describeExperiment(d);
    expect(text).toContain('Project:   vision    (archived)');
    expect(text).toContain('Labels:    paper');
    expect(text).toContain('Forked from: experiment 2');
    expect(text).toContain('Starts from: trial 3');
    expect(text).toMatch(/Notes:\n {2}# Plan\n {2}try lr 0\.1/);
  });
});
