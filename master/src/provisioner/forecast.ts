// The forecast: how long an experiment will take and what it will cost on a pool, by running its searcher, the
// scheduler and the pool's provisioner on a simulated clock (clusterSim.ts). Pure: the API route loads the pool
// and the profiled trial and hands them in.
import type { ExperimentConfig, Forecast, ForecastTiming } from '@hone/protocol';
import type { TrialTiming } from '../db/forecast';
import { simulateCluster } from './clusterSim';
import type { ProviderConfig } from './types';

export type { Forecast, ForecastTiming } from '@hone/protocol';

export type ForecastPool =
  | { kind: 'provisioned'; name: string; provider: ProviderConfig; bootSeconds: number }
  | { kind: 'fixed'; name: string; slots: number; slotsPerAgent: number };


/** Default boot time (launch to agent registered) by provider type, seconds. */
export const DEFAULT_BOOT_SECONDS: Record<ProviderConfig['type'], number> = { local: 6, aws: 120, gcp: 90 };

/**
 * Per-unit time and per-allocation overhead from a trial that ran: the slope of its reports over steps (scaled
 * from batches to the searcher's unit by the trial's batches per unit of length), and what its first run spent
 * beyond training, from the moment it was requested (placing it, starting the harness, fetching the model) to the
 * moment it ended (the last validation, the checkpoint, the exit).
 */
export function timingFromTrial(t: TrialTiming): ForecastTiming | string {
  if (t.completedLength <= 0 || t.reports.length < 2) return `trial ${t.trialId} has not trained enough to profile (it needs two reports and a completed length)`;
  const first = t.reports[0]!;
  const last = t.reports[t.reports.length - 1]!;
  const dSteps = last.steps - first.steps;
  const batchesPerUnit = t.totalBatches > 0 ? t.totalBatches / t.completedLength : last.steps / t.completedLength;
  if (dSteps <= 0 || last.at <= first.at) return `trial ${t.trialId}'s reports do not span any training time`;
  const perStep = (last.at - first.at) / 1000 / dSteps;
  const run = t.allocations[0];
  let startup = 0;
  if (run && run.endedAt !== null) {
    const inRun = t.reports.filter((r) => r.at <= run.endedAt!);
    const steps = inRun.length ? Math.max(...inRun.map((r) => r.steps)) : 0;
    startup = Math.max(0, (run.endedAt - run.createdAt) / 1000 - steps * perStep);
  }
  return { secondsPerUnit: perStep * batchesPerUnit, startupSeconds: startup, source: `trial ${t.trialId}` };
}

export function forecast(config: Pick<ExperimentConfig, 'searcher' | 'hyperparameters' | 'resources' | 'reproducibility'>, pool: ForecastPool, timing: ForecastTiming): Forecast {
  const r = simulateCluster({
    config,
    seed: config.reproducibility?.experiment_seed ?? 0,
    pool: pool.kind === 'provisioned' ? { provider: pool.provider, cloud: { bootSeconds: pool.bootSeconds } } : { fixedSlots: pool.slots, slotsPerAgent: pool.slotsPerAgent },
    secondsPerUnit: () => timing.secondsPerUnit,
    startupSeconds: timing.startupSeconds,
  });
  const hourly = pool.kind === 'provisioned' ? (pool.provider.hourly_cost ?? null) : null;
  const instanceHours = r.instanceSeconds / 3600;
  return {
    pool: pool.name,
    poolKind: pool.kind,
    timing,
    wallClockSeconds: r.wallClockSeconds,
    slotHours: r.slotSeconds / 3600,
    busySlotHours: r.busySlotSeconds / 3600,
    instanceHours,
    cost: hourly === null ? null : hourly * instanceHours,
    hourlyCost: hourly,
    peakInstances: r.peakInstances,
    slotUtilization: r.slotUtilization,
    trials: r.trials,
    unitsTrained: r.unitsTrained,
    finished: r.finished,
    timeline: r.timeline,
  };
}
