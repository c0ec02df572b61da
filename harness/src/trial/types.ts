// The Trial API: the user gives the model, optimizer, loss and data; the harness runs the loop.
import type * as tf from '@tensorflow/tfjs';
import type { AllocationInfo, ExperimentConfig, HParams } from '@hone/protocol';

export interface TrialContext {
  readonly hparams: HParams;
  /** The trial's seed (use it for initializers and data generation so runs are reproducible). */
  readonly seed: number;
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  /** hparams.global_batch_size, default 32: records per step over all ranks. */
  readonly globalBatchSize: number;
  /** This rank's share of a global batch. */
  readonly perRankBatchSize: number;
  readonly info: AllocationInfo;
  readonly config: ExperimentConfig;
  /** A hyperparameter, or `fallback` when it is not set. Throws when neither exists. */
  hparam<T = unknown>(name: string, fallback?: T): T;
  log(line: string): void;
}

/** An in-memory dataset: the first dimension indexes records. */
export interface TensorDataset {
  xs: tf.Tensor;
  ys: tf.Tensor;
}

export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;
export type BuiltinLoss = 'meanSquaredError' | 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy';
/** Per-batch metrics: name → scalar. Training ones are averaged over the batches between reports; validation ones are record-weighted means. */
export type MetricsFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => Record<string, tf.Scalar>;

export interface TrialDef {
  model: tf.LayersModel | (() => tf.LayersModel | Promise<tf.LayersModel>);
  optimizer: tf.Optimizer;
  loss: LossFn | BuiltinLoss;
  trainData: TensorDataset;
  validationData: TensorDataset;
  /** Extra training metrics, computed on each batch's predictions. */
  metrics?: MetricsFn;
  /** Validation metrics; names get a `validation_` prefix unless they have one. `validation_loss` is always reported. */
  validationMetrics?: MetricsFn;
  /** Records per forward pass during validation. Default 256. */
  validationBatchSize?: number;
  /** Batches between training-metric reports. Default 10. */
  metricsEvery?: number;
  /** Extra JSON state to store in checkpoints, and to get back on resume. */
  saveState?: () => unknown;
  loadState?: (state: unknown) => void | Promise<void>;
}

/** What an entrypoint like `model.ts:createTrial` exports. */
export type TrialFactory = (ctx: TrialContext) => TrialDef | Promise<TrialDef>;
