// The forecast's time model: what --profile extracts from a trial's real timestamps, and that the simulated clock
// charges it (start-up, the master's reaction, exit, validations, checkpoints) on top of the training time.
import { parseExperimentConfig } from '@hone/protocol';
import { describe, expect, it } from 'vitest';
import type { TrialTiming } from '../db/forecast';
import { periodicBetween, simulateCluster } from './clusterSim';
import { forecast, periodInUnits, timingFromTrial } from './forecast';

/**
 * A run as the harness produces it: requested at `created`, first training step at `firstStep`, 10 ms per batch,
 * a training report every 10 batches (sent in batches, late, except the first and those just before a validation
 * or checkpoint), a validation every 100 batches (50 ms), a final validation and checkpoint (200 ms), then exit.
 */
function profiledRun(o: { created: number; started: number; firstStep: number; slotFreedAt?: number | null; triggerAt?: number; steps?: number } ): TrialTiming {
  const perStep = 10;
  const steps = o.steps ?? 300;
  const reports: TrialTiming['reports'] = [];
  const checkpoints: TrialTiming['checkpoints'] = [];
  let t = o.firstStep;
  let batch: number[] = [];
  for (let s = 1; s <= steps; s++) {
    t += perStep;
    if (s % 10 === 0) {
      if (s === 10) reports.push({ steps: s, at: t, group: 'training' });
      else batch.push(s);
    }
    const atEnd = s === steps;
    if (s % 100 === 0 || atEnd) {
      // The buffered points go out now (the one at this step on time, the others with it).
      for (const b of batch) reports.push({ steps: b, at: t, group: 'training' });
      batch = [];
      if (atEnd) {
        t += 150; // validation
        t += 200; // checkpoint
        checkpoints.push({ steps: s, at: t });
        reports.push({ steps: s, at: t + 2, group: 'validation' });
        t += 2;
      } else {
        t += 50;
        reports.push({ steps: s, at: t, group: 'validation' });
      }
    } else if (s % 50 === 0 && batch.length > 3) {
      // A timer flush: points arrive late, not at a validation.
      for (const b of batch) reports.push({ steps: b, at: t + 400, group: 'training' });
      batch = [];
    }
  }
  reports.sort((a, b) => a.at - b.at);
  return {
    trialId: 9,
    experimentId: 1,
    completedLength: steps,
    totalBatches: steps,
    allocations: [{ createdAt: o.created, startedAt: o.started, endedAt: t + 300, slotFreedAt: o.slotFreedAt ?? null, triggerAt: o.triggerAt ?? o.created }],
    reports,
    checkpoints,
  };
}

describe('timingFromTrial (--profile)', () => {
  it('separates pure training, validation, checkpoint, start-up, exit and the master reaction from real timestamps', () => {
    const got = timingFromTrial(profiledRun({ created: 1_000, started: 1_200, firstStep: 3_000, triggerAt: 900 }));
    if (typeof got === 'string') throw new Error(got);
    expect(got.secondsPerUnit).toBeCloseTo(0.01, 6);
    expect(got.validationSeconds).toBeCloseTo(0.05, 6);
    // The end of the operation validated (50 ms, as the periodic ones) and checkpointed.
    expect(got.checkpointSeconds).toBeCloseTo(0.35 - 0.05, 6);
    expect(got.startupSeconds).toBeCloseTo(2, 6);
    expect(got.exitSeconds).toBeCloseTo(0.3, 6);
    expect(got.gapSeconds).toBeCloseTo(0.1, 6);
    expect(got.batchesPerUnit).toBe(1);
    expect(got.source).toBe('trial 9');
  });

  it('counts start-up from when the slot was freed for a run that waited for one', () => {
    const got = timingFromTrial(profiledRun({ created: 1_000, started: 9_100, slotFreedAt: 9_000, firstStep: 10_000 }));
    if (typeof got === 'string') throw new Error(got);
    expect(got.startupSeconds).toBeCloseTo(1, 6);
  });

  it('scales to the searcher unit by the batches per unit the trial trained', () => {
    const t = profiledRun({ created: 0, started: 100, firstStep: 500 });
    const got = timingFromTrial({ ...t, completedLength: 3, totalBatches: 300 });
    if (typeof got === 'string') throw new Error(got);
    expect(got.secondsPerUnit).toBeCloseTo(1, 6);
    expect(got.batchesPerUnit).toBe(100);
  });

  it('profiles a long trial (more reports than a function call takes arguments)', () => {
    const got = timingFromTrial(profiledRun({ created: 0, started: 100, firstStep: 500, steps: 1_500_000 }));
    if (typeof got === 'string') throw new Error(got);
    expect(got.secondsPerUnit).toBeCloseTo(0.01, 6);
  });

  it('an operation ending inside a run (validation and checkpoint in one stretch) does not count as a periodic validation', () => {
    const t = profiledRun({ created: 0, started: 100, firstStep: 500 });
    // At 200 batches the operation ended: the checkpoint came 400 ms after the training report, then the validation.
    const at200 = t.reports.find((r) => r.group === 'training' && r.steps === 200)!.at;
    const reports = t.reports.map((r) => (r.group === 'validation' && r.steps === 200 ? { ...r, at: at200 + 402 } : r));
    const got = timingFromTrial({ ...t, reports, checkpoints: [{ steps: 200, at: at200 + 400 }, ...t.checkpoints] });
    if (typeof got === 'string') throw new Error(got);
    expect(got.validationSeconds).toBeCloseTo(0.05, 6);
  });

  it('refuses a trial that has not finished a run or trained', () => {
    const t = profiledRun({ created: 0, started: 100, firstStep: 500 });
    expect(timingFromTrial({ ...t, allocations: [{ ...t.allocations[0]!, endedAt: null }] })).toMatch(/has not trained enough/);
    expect(timingFromTrial({ ...t, completedLength: 0 })).toMatch(/has not trained enough/);
    expect(timingFromTrial({ ...t, reports: [], checkpoints: [] })).toMatch(/has not trained enough/);
  });
});

describe('the simulated clock charges the overheads', () => {
  const config = (over: Record<string, unknown> = {}) =>
    parseExperimentConfig({ name: 'x', entrypoint: 'model.ts', hyperparameters: { lr: 0.1 }, searcher: { name: 'single', metric: 'loss', max_length: { batches: 100 } }, ...over });
  const overheads = { startupSeconds: 5, gapSeconds: 1, exitSeconds: 2, validationSeconds: 0.5, checkpointSeconds: 3, validationEvery: 25, checkpointEvery: 50 };

  it('one trial: reaction + start-up + training + validations (3 periodic, 1 final) + checkpoints (1 + 1) + exit', () => {
    const plain = simulateCluster({ config: config(), seed: 1, pool: { fixedSlots: 1 }, secondsPerUnit: () => 1 });
    expect(plain.wallClockSeconds).toBeCloseTo(100, 6);
    const r = simulateCluster({ config: config(), seed: 1, pool: { fixedSlots: 1 }, secondsPerUnit: () => 1, overheads });
    expect(r.wallClockSeconds).toBeCloseTo(1 + 5 + 100 + 4 * 0.5 + 2 * 3 + 2, 6);
  });

  it('trials one after another on a slot: the next is asked for when the previous exits, then pays its own overheads', () => {
    const random = config({ searcher: { name: 'random', metric: 'loss', max_trials: 2, max_concurrent_trials: 1, max_length: { batches: 100 } } });
    const r = simulateCluster({ config: random, seed: 1, pool: { fixedSlots: 1 }, secondsPerUnit: () => 1, overheads });
    expect(r.wallClockSeconds).toBeCloseTo(2 * 116, 6);
    // Two slots: side by side.
    const two = simulateCluster({ config: { ...random, searcher: { ...random.searcher, max_concurrent_trials: 2 } }, seed: 1, pool: { fixedSlots: 2 }, secondsPerUnit: () => 1, overheads });
    expect(two.wallClockSeconds).toBeCloseTo(116, 6);
  });

  it('forecast() takes the periods from the config and the overheads from the timing', () => {
    const c = config({ min_validation_period: { batches: 25 }, min_checkpoint_period: { batches: 50 } });
    const f = forecast(c, { kind: 'fixed', name: '1 slot', slots: 1, slotsPerAgent: 1 }, { secondsPerUnit: 1, ...overheads, source: 'test' });
    expect(f.wallClockSeconds).toBeCloseTo(116, 6);
    const none = forecast(config(), { kind: 'fixed', name: '1 slot', slots: 1, slotsPerAgent: 1 }, { secondsPerUnit: 1, ...overheads, source: 'test' });
    expect(none.wallClockSeconds).toBeCloseTo(1 + 5 + 100 + 0.5 + 3 + 2, 6);
  });

  it('periods in other units: through batches per unit, or the global batch size', () => {
    const c = config({ searcher: { name: 'single', metric: 'loss', max_length: { records: 3200 } }, hyperparameters: { global_batch_size: 32 } });
    expect(periodInUnits({ unit: 'batches', value: 25 }, c)).toBeCloseTo(800, 6);
    expect(periodInUnits({ unit: 'records', value: 640 }, c)).toBe(640);
    expect(periodInUnits({ unit: 'batches', value: 25 }, config(), 1)).toBe(25);
    expect(periodInUnits({ unit: 'epochs', value: 1 }, c)).toBeNull();
    expect(periodInUnits(undefined, c)).toBeNull();
  });

  it('periodicBetween counts the multiples strictly inside a stretch', () => {
    expect(periodicBetween(0, 100, 25)).toBe(3);
    expect(periodicBetween(25, 100, 25)).toBe(2);
    expect(periodicBetween(10, 60, 25)).toBe(2);
    expect(periodicBetween(0, 100, null)).toBe(0);
    expect(periodicBetween(0.1 * 3, 0.1 * 10, 0.1)).toBe(6);
  });
});
