// The floor for bench:submit: a fresh Node process loads TensorFlow.js (wasm), builds the synthetic model
// and trains one step.
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../harness/src/backend';

await selectBackend();
const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 32, activation: 'tanh' }), tf.layers.dense({ units: 32, activation: 'tanh' }), tf.layers.dense({ units: 1 })] });
const opt = tf.train.adam(0.01);
const xs = tf.randomNormal([32, 8]);
const ys = tf.randomNormal([32, 1]);
opt.minimize(() => tf.losses.meanSquaredError(ys, model.apply(xs) as tf.Tensor) as tf.Scalar);
console.log('first step');
