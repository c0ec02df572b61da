// One rank of the data-parallel benchmark: the real Trial API loop (runTrial) on an MLP of ~100k parameters over
// synthetic data, with an in-memory master for the searcher and the ring all-reduce for the gradients. The parent
// (main.ts) is the rendezvous over the IPC channel and paces the training in phases of `phaseSteps` batches, so that
// several set-ups can take turns on the same machine:
//   parent → child { type: 'addresses', addresses } | { type: 'go' }
//   child → parent { type: 'address', address } | { type: 'ready', params, backend } | { type: 'phase', ms, cpuMs } | { type: 'done' }
import * as tf from '@tensorflow/tfjs';
import { parseExperimentConfig } from '@hone/protocol';
import { selectBackend } from '../../harness/src/backend';
import { createCoreContext } from '../../harness/src/core/context';
import { MemoryMaster } from '../../harness/src/core/memoryMaster';
import { localCollectives } from '../../harness/src/distributed/localCollectives';
import { connectRing } from '../../harness/src/distributed/setup';
import { ringKey } from '../../harness/src/distributed/ringAuth';
import { runTrial } from '../../harness/src/trial/controller';
import { mulberry32 } from '../../harness/src/trial/rng';
import type { TrialDef } from '../../harness/src/trial/types';

export interface RankPlan {
  perRankBatch: number;
  /** Batches before the first phase (compilation, allocator warm-up). */
  warmup: number;
  /** Batches per measured phase. */
  phaseSteps: number;
  phases: number;
}

export type RankMessage =
  | { type: 'address'; address: string }
  | { type: 'ready'; params: number; backend: string }
  /**
   * One phase: wall time, this process's CPU time (user + system), and when it started and each batch ended (ms on
   * the machine's clock, comparable between processes).
   */
  | { type: 'phase'; ms: number; cpuMs: number; startedAt: number; batchEnds: number[] }
  | { type: 'done' };

const rank = Number(process.argv[2]);
const size = Number(process.argv[3]);
const plan = JSON.parse(process.argv[4]!) as RankPlan;
const send = (message: RankMessage): Promise<void> => new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));

const IN = 256;
const CLASSES = 10;
const RECORDS = 4096;

function dataset(n: number, seed: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const rand = mulberry32(seed);
  const x = new Float32Array(n * IN);
  for (let i = 0; i < x.length; i++) x[i] = rand() * 2 - 1;
  const labels = Int32Array.from({ length: n }, () => Math.floor(rand() * CLASSES));
  return { xs: tf.tensor2d(x, [n, IN]), ys: tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat() as tf.Tensor2D };
}

await selectBackend(process.env.HONE_TF_BACKEND, () => {});

const distributed =
  size > 1
    ? await connectRing({
        rank,
        key: ringKey('bench'),
        size,
        timeoutMs: 60_000,
        exchange: (address) =>
          new Promise((resolve) => {
            process.on('message', (m: { type: string; addresses?: string[] }) => {
              if (m.type === 'addresses') resolve(m.addresses!);
            });
            void send({ type: 'address', address });
          }),
      })
    : localCollectives();

const total = plan.warmup + plan.phases * plan.phaseSteps;
let gos = 0;
let wake: (() => void) | null = null;
process.on('message', (m: { type: string }) => {
  if (m.type !== 'go') return;
  gos += 1;
  wake?.();
});
let consumed = 0;
/** Waits for the parent's next "go". */
const go = async (): Promise<void> => {
  while (gos === consumed) await new Promise<void>((resolve) => (wake = resolve));
  consumed += 1;
};
const hparams = { global_batch_size: plan.perRankBatch * size };
const config = parseExperimentConfig({
  entrypoint: 'bench',
  hyperparameters: hparams,
  searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: total } },
});
/** Never preempts, and long-polls without waking up (MemoryMaster's test long-poll would tick every 5 ms while idle). */
class BenchMaster extends MemoryMaster {
  override async getPreemption(_allocationId: string, _waitS: number, signal?: AbortSignal): Promise<boolean> {
    await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
    return false;
  }
}
const master = new BenchMaster({ config, hparams, ops: [total], worldSize: size });
const info = { ...(await master.getAllocationInfo(master.allocationId, rank)), rank };
const core = createCoreContext({ client: master, info, distributed, log: () => {}, searcherWaitS: 0 });

let params = 0;
let started = 0;
let cpuStarted = process.cpuUsage();
let batchEnds: number[] = [];
const clock = (): number => performance.timeOrigin + performance.now();
await runTrial(
  core,
  (ctx): TrialDef => {
    const init = (k: number) => tf.initializers.glorotUniform({ seed: ctx.seed + k });
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [IN], units: 256, activation: 'relu', kernelInitializer: init(1) }),
        tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(2) }),
        tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(3) }),
      ],
    });
    params = model.countParams();
    return {
      model,
      optimizer: tf.train.sgd(0.01),
      loss: 'categoricalCrossentropy',
      trainData: dataset(RECORDS, 1),
      validationData: dataset(64, 2),
      metricsEvery: 50,
    };
  },
  {
    logEveryMs: 1e9,
    onBatchEnd: async (steps) => {
      if (steps > plan.warmup) batchEnds.push(clock());
      if (steps < plan.warmup || (steps - plan.warmup) % plan.phaseSteps !== 0) return;
      if (steps === plan.warmup) {
        await send({ type: 'ready', params, backend: tf.getBackend() });
      } else {
        const cpu = process.cpuUsage(cpuStarted);
        const ms = performance.now() - started;
        await send({ type: 'phase', ms, cpuMs: (cpu.user + cpu.system) / 1000, startedAt: batchEnds[batchEnds.length - 1]! - ms, batchEnds });
      }
      if (steps === total) return;
      await go();
      batchEnds = [];
      started = performance.now();
      cpuStarted = process.cpuUsage();
    },
  },
);
await core.close();
await distributed.close();
await send({ type: 'done' });
process.disconnect();
