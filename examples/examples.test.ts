// Every example config parses, names an entrypoint that exists, and trains (a few batches) under the harness.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { createCoreContext, loadEntrypoint, MemoryMaster, runTrial, selectBackend } from '@hone/harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const examples = ['synthetic', 'mnist', 'core'];

beforeAll(async () => {
  await selectBackend('wasm', () => {});
});

describe.each(examples)('examples/%s', (name) => {
  const dir = path.join(here, name);
  const configs = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('has a README and its configs', () => {
    expect(readdirSync(dir)).toContain('README.md');
    expect(configs).toEqual(expect.arrayContaining(name === 'core' ? ['single.yaml'] : ['single.yaml', 'random.yaml', 'grid.yaml']));
  });

  it.each(configs)('%s parses and names an entrypoint of the expected API', async (file) => {
    const config = parseExperimentConfig(readFileSync(path.join(dir, file), 'utf8'));
    const entry = await loadEntrypoint(config.entrypoint, dir);
    expect(entry.kind).toBe(name === 'core' ? 'core' : 'trial');
  });

  it('trains a few batches and reports the searcher metric', { timeout: 120_000 }, async () => {
    const config = parseExperimentConfig(readFileSync(path.join(dir, 'single.yaml'), 'utf8'));
    const hparams: Record<string, unknown> = {};
    for (const [k, spec] of Object.entries(config.hyperparameters)) if (spec.type === 'const') hparams[k] = spec.val;
    const master = new MemoryMaster({ config: { ...config, searcher: { ...config.searcher, max_length: { unit: 'batches', value: 40 } } }, hparams, ops: [40] });
    const entry = await loadEntrypoint(config.entrypoint, dir);
    const before = tf.memory().numTensors;
    const core = createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), log: () => {}, searcherWaitS: 0 });
    if (entry.kind === 'trial') await runTrial(core, entry.factory);
    else await entry.run(core);
    await core.close();
    expect(tf.memory().numTensors).toBe(before);
    const metric = master.completed[0]!.metric;
    expect(master.validation[0]!.metrics[config.searcher.metric]).toBe(metric);
    if (name === 'mnist') expect(metric).toBeGreaterThan(0.5); // accuracy; chance is 0.1
    else expect(metric).toBeLessThan(master.training[0]!.metrics.loss!);
  });

  it('resumes from its checkpoint after a preemption', { timeout: 120_000 }, async () => {
    const config = parseExperimentConfig(readFileSync(path.join(dir, 'single.yaml'), 'utf8'));
    const hparams: Record<string, unknown> = {};
    for (const [k, spec] of Object.entries(config.hyperparameters)) if (spec.type === 'const') hparams[k] = spec.val;
    const length = name === 'mnist' ? 60 : 200;
    const batches = { ...config, searcher: { ...config.searcher, max_length: { unit: 'batches' as const, value: length } } };
    const master = new MemoryMaster({ config: batches, hparams, ops: [length] });
    // The first allocation is preempted as soon as it asks for work.
    master.onCall = (m) => {
      if (m === 'getSearcherOperation' && master.allocationSeq === 0) master.preempt = true;
    };
    const entry = await loadEntrypoint(config.entrypoint, dir);
    const runOnce = async () => {
      const core = createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), log: () => {}, searcherWaitS: 0 });
      if (entry.kind === 'trial') await runTrial(core, entry.factory);
      else await entry.run(core);
      await core.close();
    };
    await runOnce();
    expect(master.completed).toEqual([]);
    const at = master.checkpoints.at(-1)?.stepsCompleted ?? 0;
    expect(at).toBeLessThan(length);
    master.newAllocation();
    await runOnce();
    expect(master.completed.map((c) => c.length)).toEqual([length]);
    expect(master.training.filter((p) => p.stepsCompleted > at).length).toBeGreaterThan(0);
  });
});
