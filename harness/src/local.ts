// Runs one trial of an experiment config on this machine, without a master (like `det e create --local`):
//   node --import tsx harness/src/local.ts <config.yaml> [model_dir]
// Hyperparameters take their constant value, or the middle of their range (the first value of a categorical).
// Checkpoints go to a temporary directory; metrics are printed.
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseExperimentConfig, type ExperimentConfig, type HParams, type Hyperparameters } from '@hone/protocol';
import { selectBackend } from './backend';
import { createCoreContext } from './core/context';
import { MemoryMaster } from './core/memoryMaster';
import { loadEntrypoint } from './entrypoint';
import { runTrial } from './trial/controller';

export function middleHparams(hps: Hyperparameters): HParams {
  const out: HParams = {};
  for (const [name, spec] of Object.entries(hps)) {
    switch (spec.type) {
      case 'const':
        out[name] = spec.val;
        break;
      case 'int':
        out[name] = Math.round((spec.minval + spec.maxval) / 2);
        break;
      case 'double':
        out[name] = (spec.minval + spec.maxval) / 2;
        break;
      case 'log':
        out[name] = spec.base ** ((spec.minval + spec.maxval) / 2);
        break;
      case 'categorical':
        out[name] = spec.vals[0];
        break;
      case 'nested':
        out[name] = middleHparams(spec.vals);
        break;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const [configPath, dirArg] = process.argv.slice(2);
  if (!configPath) throw new Error('usage: node --import tsx harness/src/local.ts <config.yaml> [model_dir]');
  const modelDir = path.resolve(dirArg ?? path.dirname(configPath));
  const parsed = parseExperimentConfig(await readFile(configPath, 'utf8'));
  const ckptDir = await mkdtemp(path.join(os.tmpdir(), 'hone-local-'));
  const config: ExperimentConfig = { ...parsed, checkpoint_storage: { type: 'shared_fs', host_path: ckptDir, save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 } };
  const length = config.searcher.max_length?.value ?? config.searcher.max_time ?? 100;
  const hparams = middleHparams(config.hyperparameters);
  console.log(`local: ${config.name}, hyperparameters ${JSON.stringify(hparams)}, length ${length} ${config.searcher.max_length?.unit ?? 'batches'}, checkpoints in ${ckptDir}`);
  const master = new MemoryMaster({ config, hparams, ops: [length], seed: 42 });
  await selectBackend();
  const entry = await loadEntrypoint(config.entrypoint, modelDir);
  const core = createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), searcherWaitS: 0 });
  process.on('SIGINT', () => core.preempt('SIGINT received'));
  const started = performance.now();
  try {
    if (entry.kind === 'trial') await runTrial(core, entry.factory);
    else await entry.run(core);
  } finally {
    await core.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const best = master.completed.at(-1);
  console.log(`local: done in ${seconds.toFixed(1)} s; ${config.searcher.metric}=${best?.metric ?? 'n/a'}; ${master.checkpoints.length} checkpoint(s)`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`local: failed: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(1);
  },
);
