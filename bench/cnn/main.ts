// bench:cnn — training steps/s of the MNIST example's CNN (examples/mnist/model.ts with model: cnn, batch 64) on the
// default WebAssembly backend, whose conv gradients come from harness/src/tfjs/wasmGradients.ts, against the pure-JS
// cpu backend (HONE_TF_BACKEND=cpu) measured in the same run.
//
// A step is what the harness's Trial loop does per batch: gather the batch, forward and backward (tf.variableGrads),
// Adam update, read the loss. The two backends take turns in rounds (a few cpu steps, many more wasm steps) so that
// both see the same machine load; the figures are medians over rounds. Last line: one JSON object of the figures.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseExperimentConfig } from '@hone/protocol';
import { selectBackend } from '../../harness/src/backend';
import { createCoreContext } from '../../harness/src/core/context';
import { MemoryMaster } from '../../harness/src/core/memoryMaster';
import { makeTrialContext } from '../../harness/src/trial/controller';
import type { TrialDef } from '../../harness/src/trial/types';
import { ROOT } from '../../test/helpers/processes';
import { createTrial } from '../../examples/mnist/model';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CPU_STEPS = Number(process.env.BENCH_CPU_STEPS ?? 5);
const WASM_STEPS = Number(process.env.BENCH_WASM_STEPS ?? 60);
const WARMUP = 3;
const BATCH = 64;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

interface Trainer {
  /** Runs `n` training steps; returns the wall time in ms and the last loss. */
  steps(n: number): { ms: number; loss: number };
}

/** The example's CNN trial on `backend`, trained one batch at a time the way runTrial does. */
async function cnnTrainer(backend: 'wasm' | 'cpu'): Promise<Trainer> {
  await tf.setBackend(backend);
  const parsed = parseExperimentConfig(readFileSync(path.join(ROOT, 'examples/mnist/random.yaml'), 'utf8'));
  const hparams = { global_batch_size: BATCH, learning_rate: 0.001, hidden_units: 128, model: 'cnn' };
  const master = new MemoryMaster({ config: parsed, hparams, ops: [1], seed: 1 });
  const core = createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), log: () => {}, searcherWaitS: 0 });
  const def: TrialDef = await createTrial(makeTrialContext(core));
  await core.close();
  const model = typeof def.model === 'function' ? await def.model() : def.model;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { xs, ys } = def.trainData;
  const records = xs.shape[0];
  let step = 0;
  return {
    steps(n) {
      let loss = NaN;
      const t0 = performance.now();
      for (let i = 0; i < n; i++, step++) {
        const idx = tf.tensor1d(Int32Array.from({ length: BATCH }, (_, j) => (step * BATCH + j * 7919) % records), 'int32');
        const xb = tf.gather(xs, idx);
        const yb = tf.gather(ys, idx);
        const { value, grads } = tf.variableGrads(() => tf.metrics.categoricalCrossentropy(yb, model.apply(xb, { training: true }) as tf.Tensor).mean() as tf.Scalar, vars);
        def.optimizer.applyGradients(grads);
        loss = value.dataSync()[0]!;
        tf.dispose([idx, xb, yb, value, grads]);
      }
      return { ms: performance.now() - t0, loss };
    },
  };
}

const choice = await selectBackend('wasm', () => {});
if (choice.name !== 'wasm') throw new Error(`bench:cnn needs the wasm backend, got ${choice.name}`);
const wasm = await cnnTrainer('wasm');
const cpu = await cnnTrainer('cpu');
const run = async (backend: 'wasm' | 'cpu', n: number) => {
  await tf.setBackend(backend);
  return (backend === 'wasm' ? wasm : cpu).steps(n);
};
await run('wasm', WARMUP);
await run('cpu', WARMUP);

const wasmRates: number[] = [];
const cpuRates: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order: Array<'wasm' | 'cpu'> = r % 2 ? ['cpu', 'wasm'] : ['wasm', 'cpu'];
  for (const backend of order) {
    const n = backend === 'wasm' ? WASM_STEPS : CPU_STEPS;
    const { ms, loss } = await run(backend, n);
    if (!Number.isFinite(loss)) throw new Error(`${backend}: loss is ${loss} after round ${r + 1}`);
    (backend === 'wasm' ? wasmRates : cpuRates).push((n * 1000) / ms);
    console.log(`round ${r + 1} ${backend.padEnd(4)}: ${n} steps, ${round(ms / n, 1)} ms/step, loss ${loss.toFixed(3)}`);
  }
}

const wasmRate = median(wasmRates);
const cpuRate = median(cpuRates);
console.log(
  `MNIST CNN, batch ${BATCH}: wasm ${round(wasmRate)} steps/s (${round(1000 / wasmRate, 1)} ms/step), ` +
    `cpu ${round(cpuRate)} steps/s (${round(1000 / cpuRate, 1)} ms/step), ratio ${round(wasmRate / cpuRate, 1)} (median of ${ROUNDS} rounds)`,
);
console.log(
  JSON.stringify({
    wasm_steps_per_s: round(wasmRate, 3),
    cpu_steps_per_s: round(cpuRate, 3),
    ratio: round(wasmRate / cpuRate, 2),
    wasm_ms_per_step: round(1000 / wasmRate, 1),
    cpu_ms_per_step: round(1000 / cpuRate, 1),
    batch: BATCH,
    rounds: ROUNDS,
    cpus: cpus().length,
    load_average_1m: round(loadavg()[0]!),
  }),
);
