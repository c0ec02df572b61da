// A tiny synthetic regression: y = sin(x·w1) + x·w2 + noise over 8 features, from a fixed seed,
// so it trains in seconds on the wasm backend. Entrypoint: model.ts:createTrial.
import * as tf from '@tensorflow/tfjs';
import { mulberry32, type TrialContext, type TrialDef } from '@hone/harness';

const FEATURES = 8;

function makeData(n: number, seed: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  // The target function is fixed (seed 7) for every trial; only the sampled records depend on `seed`.
  const fw = mulberry32(7);
  const w1 = Array.from({ length: FEATURES }, () => fw() * 2 - 1);
  const w2 = Array.from({ length: FEATURES }, () => fw() * 2 - 1);
  const rand = mulberry32(seed);
  const x = new Float32Array(n * FEATURES);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < FEATURES; j++) {
      const v = rand() * 2 - 1;
      x[i * FEATURES + j] = v;
      a += v * w1[j]!;
      b += v * w2[j]!;
    }
    y[i] = Math.sin(2 * a) + 0.5 * b + (rand() - 0.5) * 0.05;
  }
  return { xs: tf.tensor2d(x, [n, FEATURES]), ys: tf.tensor2d(y, [n, 1]) };
}

// `batch_ms` (default 0) makes every batch take at least that long without using the CPU, as a step that waits on
// a GPU does: tests use it to keep a trial running for a known time whatever the machine's load.
const waitCell = new Int32Array(new SharedArrayBuffer(4));

export function createTrial(ctx: TrialContext): TrialDef {
  const batchMs = Number(ctx.hparam('batch_ms', 0));
  const hidden = Number(ctx.hparam('hidden_units', 32));
  const lr = Number(ctx.hparam('learning_rate', 0.01));
  const optimizerName = String(ctx.hparam('optimizer', 'adam'));
  const init = (k: number) => tf.initializers.glorotUniform({ seed: ctx.seed + k });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [FEATURES], units: hidden, activation: 'tanh', kernelInitializer: init(1) }),
      tf.layers.dense({ units: hidden, activation: 'tanh', kernelInitializer: init(2) }),
      tf.layers.dense({ units: 1, kernelInitializer: init(3) }),
    ],
  });
  return {
    model,
    optimizer: optimizerName === 'sgd' ? tf.train.sgd(lr) : tf.train.adam(lr),
    loss: 'meanSquaredError',
    trainData: makeData(2048, 1),
    validationData: makeData(512, 2),
    validationMetrics: (yTrue, yPred) => ({ mae: tf.losses.absoluteDifference(yTrue, yPred) as tf.Scalar }),
    ...(batchMs > 0 ? { metrics: () => (Atomics.wait(waitCell, 0, 0, batchMs), {}) } : {}),
  };
}
