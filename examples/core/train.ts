// The core API: your own training loop, with the cluster's searcher, metrics, checkpoints and preemption.
// Fits y = 3x − 2 + noise with plain SGD. Entrypoint: `train.ts` (a default export taking the core context).
import * as tf from '@tensorflow/tfjs';
import { mulberry32, type CoreContext } from '@hone/harness';

const BATCH = 32;

/** Batch `step` is a pure function of the step, so a resumed run sees the same data. */
function batch(step: number): { x: tf.Tensor1D; y: tf.Tensor1D } {
  const rand = mulberry32(1000 + step);
  const xs = Float32Array.from({ length: BATCH }, () => rand() * 2 - 1);
  const ys = xs.map((x) => 3 * x - 2 + (rand() - 0.5) * 0.1);
  return { x: tf.tensor1d(xs), y: tf.tensor1d(ys) };
}

export default async function train(core: CoreContext): Promise<void> {
  const lr = Number(core.hparams.learning_rate ?? 0.1);
  const zero = tf.scalar(0);
  const w = tf.variable(zero);
  const b = tf.variable(zero);
  zero.dispose(); // the variables keep their own reference to the data
  const optimizer = tf.train.sgd(lr);
  let steps = 0;

  if (core.checkpoint.latest) {
    const files = await core.checkpoint.restore();
    const state = JSON.parse(new TextDecoder().decode(files['state.json'])) as { steps: number; w: number; b: number };
    const [sw, sb] = [tf.scalar(state.w), tf.scalar(state.b)];
    w.assign(sw);
    b.assign(sb);
    tf.dispose([sw, sb]);
    steps = state.steps;
    core.log(`resumed at step ${steps}`);
  }

  const save = async () => {
    const state = { steps, w: (await w.data())[0], b: (await b.data())[0] };
    await core.checkpoint.store({ 'state.json': new TextEncoder().encode(JSON.stringify(state)) }, steps);
  };
  const loss = (x: tf.Tensor, y: tf.Tensor) => tf.losses.meanSquaredError(y, x.mul(w).add(b)) as tf.Scalar;

  for await (const op of core.searcher.operations()) {
    while (steps < op.length) {
      if (core.preemption.shouldPreempt()) {
        await save();
        return;
      }
      const { x, y } = batch(steps);
      const value = optimizer.minimize(() => loss(x, y), true, [w, b])!;
      steps += 1;
      if (steps % 10 === 0) core.train.reportTrainingMetrics(steps, { loss: (await value.data())[0]! });
      tf.dispose([x, y, value]);
      // Yield to the event loop so the preemption long-poll (and SIGTERM) can be noticed.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { x, y } = batch(1_000_000);
    const validationLoss = tf.tidy(() => loss(x, y).dataSync()[0]!);
    tf.dispose([x, y]);
    await save();
    await core.train.reportValidationMetrics(steps, { validation_loss: validationLoss });
    core.log(`validation: steps ${steps} validation_loss=${validationLoss.toPrecision(4)} w=${w.dataSync()[0]!.toFixed(3)} b=${b.dataSync()[0]!.toFixed(3)}`);
    await op.reportCompleted(validationLoss);
  }
  tf.dispose([w, b]);
  optimizer.dispose();
}
