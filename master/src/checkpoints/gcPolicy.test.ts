import { describe, expect, it } from 'vitest';
import { checkpointsToDelete, type GcCheckpoint } from './gcPolicy';

const cp = (uuid: string, trialId: number, steps: number, metric: number | null): GcCheckpoint => ({ uuid, trialId, stepsCompleted: steps, metric });

describe('checkpoint GC policy', () => {
  const cps = [cp('a1', 1, 100, 0.5), cp('a2', 1, 200, 0.3), cp('a3', 1, 300, 0.4), cp('b1', 2, 100, 0.2), cp('b2', 2, 200, 0.6)];

  it('keeps the latest and the best of each trial by default', () => {
    expect(checkpointsToDelete(cps, { save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 }, true).sort()).toEqual(['a1']);
  });

  it('honours larger-is-better metrics', () => {
    expect(checkpointsToDelete(cps, { save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 }, false).sort()).toEqual(['a2', 'b1']);
  });

  it('keeps only the experiment best when trial policies are zero', () => {
    expect(checkpointsToDelete(cps, { save_experiment_best: 1, save_trial_best: 0, save_trial_latest: 0 }, true).sort()).toEqual(['a1', 'a2', 'a3', 'b2']);
  });

  it('never deletes everything of a trial that keeps its latest, even without metrics', () => {
    const del = checkpointsToDelete([cp('x', 3, 10, null), cp('y', 3, 20, null)], { save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 }, true);
    expect(del).toEqual(['x']);
  });

  it('never deletes a checkpoint registered in the model registry', () => {
    const registered = cps.map((c) => (c.uuid === 'a1' || c.uuid === 'b2' ? { ...c, registered: true } : c));
    expect(checkpointsToDelete(registered, { save_experiment_best: 1, save_trial_best: 0, save_trial_latest: 0 }, true).sort()).toEqual(['a2', 'a3']);
  });
});
