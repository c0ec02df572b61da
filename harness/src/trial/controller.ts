// The Trial API's training loop over the core context: deterministic batches, gradients averaged across ranks,
// training metrics, validation, checkpoints, exact resume, preemption.
import * as tf from '@tensorflow/tfjs';
import type { CoreContext } from '../core/context';
import { averageGradients, averageMetrics, broadcastWeights, shardRange, type Shard } from '../distributed/dataParallel';
import { encodeCheckpoint, restoreCheckpoint, type TrialState } from './checkpointFormat';
import { fromBatches, lengthToBatches, toBatches, type LengthBasis } from './length';
import { epochPermutation } from './rng';
import type { BuiltinLoss, LossFn, MetricsFn, TrialContext, TrialDef, TrialFactory } from './types';

export type TrialOutcome = 'closed' | 'preempted';

export interface RunTrialOptions {
  /** Observes the loop after each batch (tests check tensor counts here). */
  onBatchEnd?: (stepsCompleted: number) => void | Promise<void>;
  /** Minimum milliseconds between "training:" log lines. Default 2000. */
  logEveryMs?: number;
}

const BUILTIN_LOSSES: Record<BuiltinLoss, LossFn> = {
  meanSquaredError: (t, p) => tf.losses.meanSquaredError(t, p) as tf.Scalar,
  categoricalCrossentropy: (t, p) => tf.metrics.categoricalCrossentropy(t, p).mean() as tf.Scalar,
  sparseCategoricalCrossentropy: (t, p) =>
    tf.metrics.categoricalCrossentropy(tf.oneHot(t.flatten().toInt(), p.shape[p.shape.length - 1]!), p).mean() as tf.Scalar,
  binaryCrossentropy: (t, p) => tf.metrics.binaryCrossentropy(t, p).mean() as tf.Scalar,
};

function resolveLoss(loss: TrialDef['loss']): LossFn {
  if (typeof loss === 'function') return loss;
  const fn = BUILTIN_LOSSES[loss];
  if (!fn) throw new Error(`TrialDef.loss: unknown loss "${String(loss)}" (expected a function or one of ${Object.keys(BUILTIN_LOSSES).join(', ')})`);
  return fn;
}

export function makeTrialContext(core: CoreContext): TrialContext {
  const hp = core.hparams;
  const gbs = hp.global_batch_size ?? 32;
  if (typeof gbs !== 'number' || !Number.isInteger(gbs) || gbs < 1) throw new Error(`hyperparameter global_batch_size must be a positive integer, got ${JSON.stringify(gbs)}`);
  const { rank, size, localRank } = core.distributed;
  if (gbs < size) throw new Error(`global_batch_size ${gbs} is smaller than the number of ranks ${size}`);
  return {
    hparams: hp,
    seed: core.info.seed,
    rank,
    size,
    localRank,
    globalBatchSize: gbs,
    perRankBatchSize: shardRange(gbs, rank, size).count,
    info: core.info,
    config: core.config,
    hparam<T>(name: string, fallback?: T): T {
      if (name in hp) return hp[name] as T;
      if (fallback !== undefined) return fallback;
      throw new Error(`hyperparameter ${name} is not set (known: ${Object.keys(hp).join(', ') || 'none'})`);
    },
    log: (l) => core.log(l),
  };
}

const PREEMPTION_CHECK_EVERY = 8;

const fmt = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');

/** Runs a Trial API trial until the searcher has no more work or the allocation is preempted. */
export async function runTrial(core: CoreContext, factory: TrialFactory, opts: RunTrialOptions = {}): Promise<TrialOutcome> {
  const ctx = makeTrialContext(core);
  const def = await factory(ctx);
  const model = typeof def.model === 'function' ? await def.model() : def.model;
  try {
    return await new TrialLoop(core, ctx, def, model, opts).run();
  } finally {
    model.dispose();
    def.optimizer.dispose();
    tf.dispose([def.trainData.xs, def.trainData.ys, def.validationData.xs, def.validationData.ys]);
  }
}

class TrialLoop {
  private readonly lossFn: LossFn;
  private readonly vars: tf.Variable[];
  private readonly n: number;
  private readonly G: number;
  private readonly batchesPerEpoch: number;
  private readonly basis: LengthBasis;
  private readonly shard: Shard;
  private steps = 0;
  private lastCheckpointSteps = -1;
  private lastValidation: { steps: number; metrics: Record<string, number> } | null = null;
  private lastReportedValidationSteps = -1;
  private perm: { epoch: number; perm: Int32Array } | null = null;
  // Training metrics since the last report: loss scalars kept on device until read in one go.
  private pendingLoss: tf.Scalar[] = [];
  private pendingExtra: Array<Record<string, tf.Scalar>> = [];
  private lastLog = 0;

  constructor(
    private readonly core: CoreContext,
    private readonly ctx: TrialContext,
    private readonly def: TrialDef,
    private readonly model: tf.LayersModel,
    private readonly opts: RunTrialOptions,
  ) {
    this.lossFn = resolveLoss(def.loss);
    // A model without an input shape creates its weights on first use.
    if (model.trainableWeights.length === 0) tf.tidy(() => void model.apply(def.trainData.xs.slice(0, 1)));
    this.vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    if (this.vars.length === 0) throw new Error('TrialDef.model has no trainable weights');
    this.n = def.trainData.xs.shape[0]!;
    if (def.trainData.ys.shape[0] !== this.n) throw new Error(`trainData: xs has ${this.n} records, ys has ${def.trainData.ys.shape[0]}`);
    this.G = ctx.globalBatchSize;
    if (this.G > this.n) throw new Error(`global_batch_size ${this.G} is larger than the training set (${this.n} records)`);
    this.batchesPerEpoch = Math.floor(this.n / this.G);
    this.basis = { globalBatchSize: this.G, recordsPerEpoch: core.config.records_per_epoch ?? this.n };
    this.shard = shardRange(this.G, ctx.rank, ctx.size);
  }

  async run(): Promise<TrialOutcome> {
    const { core } = this;
    await this.restoreOrSync();
    const unit = core.config.searcher.max_length?.unit ?? 'batches';
    const valPeriod = lengthToBatches(core.config.min_validation_period, this.basis);
    const ckptPeriod = lengthToBatches(core.config.min_checkpoint_period, this.basis);
    const metricsEvery = Math.max(1, this.def.metricsEvery ?? 10);

    for await (const op of core.searcher.operations()) {
      const target = toBatches(op.length, unit, this.basis);
      while (this.steps < target) {
        // With several ranks, agreeing on preemption costs a message round the ring: do it every few batches
        // (every rank is at the same step, so all agree at the same step).
        const checkPreemption = this.ctx.size === 1 || this.steps % PREEMPTION_CHECK_EVERY === 0;
        if (checkPreemption && (await core.preemption.shouldPreemptAll())) return this.stopForPreemption();
        await this.trainBatch();
        if (this.steps % metricsEvery === 0) await this.reportTraining(false);
        const validate = !!valPeriod && this.steps % valPeriod === 0 && this.steps < target;
        const save = !!ckptPeriod && this.steps % ckptPeriod === 0 && this.steps < target;
        if (validate) await this.validateAndReport();
        if (save && !validate) await this.sendTraining();
        if (save) await this.checkpoint();
        if (validate || save) await op.reportProgress(fromBatches(this.steps, unit, this.basis));
        await this.opts.onBatchEnd?.(this.steps);
        // Let timers and I/O run: the preemption long-poll's answer and SIGTERM arrive through the event loop.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await this.reportTraining(true);
      await this.core.train.flush();
      const metrics = this.lastValidation?.steps === this.steps ? this.lastValidation.metrics : await this.validate();
      if (this.lastCheckpointSteps !== this.steps) await this.checkpoint();
      if (this.lastReportedValidationSteps !== this.steps) await this.reportValidation(metrics);
      const name = core.config.searcher.metric;
      const metric = metrics[name];
      if (typeof metric !== 'number') {
        throw new Error(`searcher metric "${name}" is not among the validation metrics (${Object.keys(metrics).join(', ')})`);
      }
      await op.reportCompleted(metric);
      if (this.ctx.rank === 0) core.log(`searcher: completed ${op.length} ${unit} (${this.steps} batches), ${name}=${metric}`);
      if (await core.preemption.shouldPreemptAll()) return this.stopForPreemption();
    }
    await core.train.flush();
    // The searcher stops handing out work to an allocation being preempted; its last checkpoint is at the op end.
    return core.preemption.shouldPreempt() ? 'preempted' : 'closed';
  }

  private async stopForPreemption(): Promise<TrialOutcome> {
    await this.reportTraining(true);
    if (this.lastCheckpointSteps !== this.steps && this.steps > 0) await this.checkpoint();
    this.core.log(`preempted at ${this.steps} batches; exiting`);
    return 'preempted';
  }

  /** Resumes from the latest checkpoint, or makes every rank start from rank 0's initial weights. */
  private async restoreOrSync(): Promise<void> {
    const latest = this.core.checkpoint.latest;
    if (latest) {
      const files = await this.core.checkpoint.restore(latest);
      const manifest = await restoreCheckpoint(files, this.model, this.def.optimizer);
      if (manifest.state.globalBatchSize !== this.G) {
        this.core.log(`warning: checkpoint used global_batch_size ${manifest.state.globalBatchSize}, now ${this.G}; the data order changes`);
      }
      this.steps = manifest.state.stepsCompleted;
      this.lastCheckpointSteps = this.steps;
      if (manifest.user !== undefined) await this.def.loadState?.(manifest.user);
      this.core.log(`resuming at ${this.steps} batches (epoch ${manifest.state.epoch}, batch ${manifest.state.batchInEpoch})`);
    } else {
      await broadcastWeights(this.core.distributed, this.model.weights, 0);
    }
  }

  /** Indices of this rank's records for global batch `step`. */
  private batchIndices(step: number): Int32Array {
    const epoch = Math.floor(step / this.batchesPerEpoch);
    const b = step % this.batchesPerEpoch;
    if (!this.perm || this.perm.epoch !== epoch) this.perm = { epoch, perm: epochPermutation(this.n, this.ctx.seed, epoch) };
    const start = b * this.G;
    return this.perm.perm.subarray(start + this.shard.start, start + this.shard.end);
  }

  private async trainBatch(): Promise<void> {
    const { xs, ys } = this.def.trainData;
    const idx = tf.tensor1d(this.batchIndices(this.steps), 'int32');
    const xb = tf.gather(xs, idx);
    const yb = tf.gather(ys, idx);
    let extra: Record<string, tf.Scalar> | null = null;
    const metricsFn = this.def.metrics;
    const { value, grads } = tf.variableGrads(() => {
      const yPred = this.model.apply(xb, { training: true }) as tf.Tensor;
      const loss = this.lossFn(yb, yPred);
      if (metricsFn) extra = keepAll(tf.tidy(() => metricsFn(yb, yPred)));
      return loss;
    }, this.vars);
    tf.dispose([idx, xb, yb]);
    const averaged = this.ctx.size > 1 ? await this.averageGradients(grads) : grads;
    this.def.optimizer.applyGradients(averaged);
    tf.dispose(grads);
    if (averaged !== grads) tf.dispose(averaged);
    this.pendingLoss.push(value);
    if (extra) this.pendingExtra.push(extra);
    this.steps += 1;
  }

  private averageGradients(grads: tf.NamedTensorMap): Promise<tf.NamedTensorMap> {
    // Each rank's loss is the mean over its shard; weighting by shard size makes the mean over ranks the mean over
    // the global batch even when it does not split evenly.
    return averageGradients(this.core.distributed, grads, { scale: this.shard.weight });
  }

  /** Sends the mean of the training metrics since the last report. `final` also logs. */
  private async reportTraining(final: boolean): Promise<void> {
    if (this.pendingLoss.length === 0) return;
    const losses = this.pendingLoss;
    const extras = this.pendingExtra;
    this.pendingLoss = [];
    this.pendingExtra = [];
    const lossValues = await Promise.all(losses.map((l) => l.data()));
    const metrics: Record<string, number> = { loss: mean(lossValues.map((v) => v[0]!)) };
    if (extras.length > 0) {
      for (const name of Object.keys(extras[0]!)) {
        const vals = await Promise.all(extras.map((e) => e[name]!.data()));
        metrics[name] = mean(vals.map((v) => v[0]!));
      }
    }
    tf.dispose(losses);
    for (const e of extras) tf.dispose(Object.values(e));
    const synced = this.ctx.size > 1 ? await this.averageMetrics(metrics) : metrics;
    this.core.train.reportTrainingMetrics(this.steps, synced);
    const now = Date.now();
    if (final || now - this.lastLog >= (this.opts.logEveryMs ?? 2000)) {
      this.lastLog = now;
      this.core.log(`training: steps ${this.steps} ${fmt(synced)}`);
    }
  }

  /** Training metrics over the whole global batch: each rank's mean weighted by its shard's size. */
  private averageMetrics(metrics: Record<string, number>): Promise<Record<string, number>> {
    return averageMetrics(this.core.distributed, metrics, this.shard.count);
  }

  /** Record-weighted validation metrics over the whole validation set (each rank takes a contiguous shard). */
  async validate(): Promise<Record<string, number>> {
    const { xs, ys } = this.def.validationData;
    const total = xs.shape[0]!;
    const { start: lo, end: hi } = shardRange(total, this.ctx.rank, this.ctx.size);
    const bs = Math.max(1, this.def.validationBatchSize ?? 256);
    const sums: Record<string, number> = {};
    const metricsFn: MetricsFn | undefined = this.def.validationMetrics;
    for (let start = lo; start < hi; start += bs) {
      const count = Math.min(bs, hi - start);
      const batch = tf.tidy(() => {
        const xb = xs.slice(start, count);
        const yb = ys.slice(start, count);
        const yPred = this.model.apply(xb, { training: false }) as tf.Tensor;
        const out: Record<string, tf.Scalar> = { validation_loss: this.lossFn(yb, yPred) };
        if (metricsFn) {
          for (const [k, v] of Object.entries(metricsFn(yb, yPred))) out[k.startsWith('validation_') ? k : `validation_${k}`] = v;
        }
        return out;
      });
      const names = Object.keys(batch);
      const values = await Promise.all(names.map((k) => batch[k]!.data()));
      names.forEach((k, i) => (sums[k] = (sums[k] ?? 0) + values[i]![0]! * count));
      tf.dispose(Object.values(batch));
    }
    let counts = hi - lo;
    let totals = sums;
    if (this.ctx.size > 1) {
      const all = await this.core.distributed.allgather({ sums, count: hi - lo });
      counts = all.reduce((a, b) => a + b.count, 0);
      totals = {};
      for (const part of all) for (const [k, v] of Object.entries(part.sums)) totals[k] = (totals[k] ?? 0) + v;
    }
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(totals)) metrics[k] = counts > 0 ? v / counts : NaN;
    this.lastValidation = { steps: this.steps, metrics };
    return metrics;
  }

  private async reportValidation(metrics: Record<string, number>): Promise<void> {
    this.lastReportedValidationSteps = this.steps;
    await this.core.train.reportValidationMetrics(this.steps, metrics);
    this.core.log(`validation: steps ${this.steps} ${fmt(metrics)}`);
  }

  /**
   * Sends the training metrics up to now before validating or checkpointing: their arrival marks the end of a
   * stretch of pure training, which is what a forecast's --profile measures the time per batch (and the cost of a
   * validation or a checkpoint) from.
   */
  private async sendTraining(): Promise<void> {
    await this.reportTraining(false);
    await this.core.train.flush();
  }

  private async validateAndReport(): Promise<void> {
    await this.sendTraining();
    await this.reportValidation(await this.validate());
  }

  private async checkpoint(): Promise<void> {
    this.lastCheckpointSteps = this.steps;
    if (this.ctx.rank !== 0) return;
    const state: TrialState = {
      stepsCompleted: this.steps,
      globalBatchSize: this.G,
      seed: this.ctx.seed,
      epoch: Math.floor(this.steps / this.batchesPerEpoch),
      batchInEpoch: this.steps % this.batchesPerEpoch,
      batchesPerEpoch: this.batchesPerEpoch,
    };
    const files = await encodeCheckpoint(this.model, this.def.optimizer, state, this.def.saveState?.());
    await this.core.checkpoint.store(files, this.steps, { format: 'hone-trial/1', framework: `tfjs ${tf.version.tfjs}`, backend: tf.getBackend() });
  }
}

function keepAll(m: Record<string, tf.Scalar>): Record<string, tf.Scalar> {
  for (const v of Object.values(m)) tf.keep(v);
  return m;
}

function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}
