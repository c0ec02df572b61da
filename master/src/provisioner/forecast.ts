// The forecast: how long an experiment will take and what it will cost on a pool, by running its searcher, the
// scheduler and the pool's provisioner on a simulated clock (clusterSim.ts). Pure: the API route loads the pool
// and the profiled trial and hands them in.
import type { ExperimentConfig, Forecast, ForecastTiming, Length } from '@hone/protocol';
import type { TrialTiming } from '../db/forecast';
import { simulateCluster } from './clusterSim';
import type { ProviderConfig } from './types';

export type { Forecast, ForecastTiming } from '@hone/protocol';

export type ForecastPool =
  | { kind: 'provisioned'; name: string; provider: ProviderConfig; bootSeconds: number }
  | { kind: 'fixed'; name: string; slots: number; slotsPerAgent: number };


/** Default boot time (launch to agent registered) by provider type, seconds. */
export const DEFAULT_BOOT_SECONDS: Record<ProviderConfig['type'], number> = { local: 6, aws: 120, gcp: 90 };

const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * The time model of a trial that ran (its first run), from its real timestamps:
 *
 * - secondsPerUnit: pure training. The harness sends its training metrics just before it validates or checkpoints
 *   and goes on training right after, so each stretch from one validation/checkpoint (or the first training report,
 *   which goes out at once) to the training report at the next one is training only.
 * - validationSeconds / checkpointSeconds: the training report at a step to the validation / checkpoint at that
 *   step (medians over the periodic ones; the end of an operation, which does both, splits by them, or counts as
 *   a validation when the run had none in between).
 * - startupSeconds: the run being placed (requested, or its slot freed if it had to wait) to its first training
 *   step (the first report less the steps before it).
 * - exitSeconds: its last report or checkpoint to the run's end.
 * - gapSeconds: the run's request less the event of its experiment that caused it (submission, a run's end, a
 *   validation).
 */
export function timingFromTrial(t: TrialTiming): ForecastTiming | string {
  const run = t.allocations[0];
  if (t.completedLength <= 0 || !run || run.endedAt === null) return `trial ${t.trialId} has not trained enough to profile (it needs a finished run and a completed length)`;
  const inRun = (at: number) => at >= run.startedAt && at <= run.endedAt! + 1000;
  const train = t.reports.filter((r) => r.group === 'training' && inRun(r.at));
  const vals = t.reports.filter((r) => r.group === 'validation' && inRun(r.at));
  const ckpts = t.checkpoints.filter((c) => inRun(c.at));
  if (train.length < 1 || (train.length < 2 && !vals.length)) return `trial ${t.trialId} has not trained enough to profile (it needs two reports and a completed length)`;
  const trainAt = new Map<number, number>();
  for (const r of train) if (!trainAt.has(r.steps)) trainAt.set(r.steps, r.at);
  const valAt = new Map<number, number>();
  for (const r of vals) if (!valAt.has(r.steps)) valAt.set(r.steps, r.at);
  const ckptAt = new Map<number, number>();
  for (const c of ckpts) if (!ckptAt.has(c.steps)) ckptAt.set(c.steps, c.at);
  const first = train[0]!;
  // (reduce, not Math.max(...): a long trial has more reports than a call takes arguments)
  const maxOf = (xs: number[], init = -Infinity) => xs.reduce((m, x) => (x > m ? x : m), init);
  const finalStep = maxOf([...train.map((r) => r.steps), ...vals.map((r) => r.steps), ...ckpts.map((c) => c.steps)]);
  const breaks = [...new Set([...valAt.keys(), ...ckptAt.keys()])].filter((b) => b > first.steps).sort((a, b) => a - b);

  // Training stretches.
  let dt = 0;
  let ds = 0;
  let from = { steps: first.steps, at: first.at };
  for (const b of breaks) {
    const end = trainAt.get(b);
    if (end !== undefined && end >= from.at) {
      dt += end - from.at;
      ds += b - from.steps;
    }
    from = { steps: b, at: Math.max(valAt.get(b) ?? -Infinity, ckptAt.get(b) ?? -Infinity) };
  }
  if (ds <= 0 || dt <= 0) {
    // No report at a validation or checkpoint: the slope of the training reports (which then carries their cost).
    const last = train[train.length - 1]!;
    dt = last.at - first.at;
    ds = last.steps - first.steps;
  }
  if (ds <= 0 || dt <= 0) return `trial ${t.trialId}'s reports do not span any training time`;
  const perStep = dt / 1000 / ds;

  // Validations and checkpoints: the periodic ones, then the end of each operation (the run's last step).
  const v: number[] = [];
  const c: number[] = [];
  for (const b of breaks) {
    const tr = trainAt.get(b);
    if (tr === undefined || b === finalStep) continue;
    const va = valAt.get(b);
    const ca = ckptAt.get(b);
    // At a periodic step the harness validates and reports, then checkpoints. A checkpoint before the validation's
    // report is the end of an operation (both, in one stretch), which says nothing about either alone.
    if (va !== undefined && ca !== undefined && ca < va) continue;
    if (va !== undefined && va >= tr) v.push((va - tr) / 1000);
    if (ca !== undefined) {
      const after = va !== undefined && va <= ca ? va : tr;
      if (ca >= after) c.push((ca - after) / 1000);
    }
  }
  let validationSeconds = median(v);
  let checkpointSeconds = median(c);
  const trEnd = trainAt.get(finalStep);
  // At the end of an operation it validates, checkpoints, then reports the validation.
  const endDone = ckptAt.get(finalStep) ?? valAt.get(finalStep) ?? NaN;
  const lump = trEnd !== undefined && Number.isFinite(endDone) ? Math.max(0, (endDone - trEnd) / 1000) : 0;
  if (validationSeconds === null && checkpointSeconds === null) validationSeconds = lump;
  else if (validationSeconds === null) validationSeconds = Math.max(0, lump - checkpointSeconds!);
  checkpointSeconds ??= Math.max(0, lump - validationSeconds);

  const placedAt = Math.min(run.startedAt, Math.max(run.createdAt, run.slotFreedAt ?? -Infinity));
  const firstStepAt = first.at - first.steps * perStep * 1000;
  const startupSeconds = Math.max(0, (firstStepAt - placedAt) / 1000);
  const lastAt = maxOf([...train.map((r) => r.at), ...vals.map((r) => r.at), ...ckpts.map((x) => x.at)]);
  const exitSeconds = Math.max(0, (run.endedAt - lastAt) / 1000);
  const gapSeconds = Math.max(0, (run.createdAt - run.triggerAt) / 1000);
  const batchesPerUnit = t.totalBatches > 0 ? t.totalBatches / t.completedLength : finalStep / t.completedLength;
  return {
    secondsPerUnit: perStep * batchesPerUnit,
    startupSeconds,
    gapSeconds,
    exitSeconds,
    validationSeconds,
    checkpointSeconds,
    batchesPerUnit,
    source: `trial ${t.trialId}`,
  };
}

/** A period (min_validation_period, min_checkpoint_period) in units of the searcher's length; null: unknown. */
export function periodInUnits(period: Length | undefined, config: Pick<ExperimentConfig, 'searcher' | 'hyperparameters' | 'records_per_epoch'>, batchesPerUnit?: number): number | null {
  if (!period || period.value <= 0) return null;
  const unit = config.searcher.max_length?.unit ?? 'batches';
  if (period.unit === unit) return period.value;
  const gbs = config.hyperparameters.global_batch_size;
  const batchSize = gbs && gbs.type === 'const' && typeof gbs.val === 'number' ? gbs.val : null;
  const toBatches = (l: Length): number | null => {
    if (l.unit === 'batches') return l.value;
    if (batchSize === null) return null;
    if (l.unit === 'records') return l.value / batchSize;
    return config.records_per_epoch ? (l.value * config.records_per_epoch) / batchSize : null;
  };
  const periodBatches = toBatches(period);
  if (periodBatches === null) return null;
  const perUnit = batchesPerUnit ?? toBatches({ value: 1, unit });
  return perUnit ? periodBatches / perUnit : null;
}

type ForecastConfig = Pick<ExperimentConfig, 'searcher' | 'hyperparameters' | 'resources' | 'reproducibility' | 'min_validation_period' | 'min_checkpoint_period' | 'records_per_epoch'>;

export function forecast(config: ForecastConfig, pool: ForecastPool, timing: ForecastTiming): Forecast {
  const r = simulateCluster({
    config,
    seed: config.reproducibility?.experiment_seed ?? 0,
    pool: pool.kind === 'provisioned' ? { provider: pool.provider, cloud: { bootSeconds: pool.bootSeconds } } : { fixedSlots: pool.slots, slotsPerAgent: pool.slotsPerAgent },
    secondsPerUnit: () => timing.secondsPerUnit,
    overheads: {
      startupSeconds: timing.startupSeconds,
      gapSeconds: timing.gapSeconds,
      exitSeconds: timing.exitSeconds,
      validationSeconds: timing.validationSeconds,
      checkpointSeconds: timing.checkpointSeconds,
      validationEvery: periodInUnits(config.min_validation_period, config, timing.batchesPerUnit),
      checkpointEvery: periodInUnits(config.min_checkpoint_period, config, timing.batchesPerUnit),
    },
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
