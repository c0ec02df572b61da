// Every example config parses, names an entrypoint that exists, and trains (a few batches) under the harness.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { createCoreContext, loadEntrypoint, MemoryMaster, runTrial, selectBackend } from '@hone/harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const examples = ['synthetic', 'mnist'];

beforeAll(async () => {
  await selectBackend('wasm', () => {});
});

describe.each(examples)('examples/%s', (name) => {
  const dir = path.join(here, name);
  const configs = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('has a README and single, random and grid configs', () => {
    expect(readdirSync(dir)).toContain('README.md');
    expect(configs).toEqual(expect.arrayContaining(['single.yaml', 'random.yaml', 'grid.yaml']));
  });

  it.each(configs)('%s parses and its entrypoint is a Trial API factory', async (file) => {
    const config = parseExperimentConfig(readFileSync(path.join(dir, file), 'utf8'));
    const entry = await loadEntrypoint(config.entrypoint, dir);
    expect(entry.kind).toBe('trial');
  });

  it('trains a few batches and reports the searcher metric', { timeout: 120_000 }, async () => {
    const config = parseExperimentConfig(readFileSync(path.join(dir, 'single.yaml'), 'utf8'));
    const hparams: Record<string, unknown> = {};
    for (const [k, spec] of Object.entries(config.hyperparameters)) if (spec.type === 'const') hparams[k] = spec.val;
    const master = new MemoryMaster({ config: { ...config, searcher: { ...config.searcher, max_length: { unit: 'batches', value: 40 } } }, hparams, ops: [40] });
    const entry = await loadEntrypoint(config.entrypoint, dir);
    if (entry.kind !== 'trial') throw new Error('expected a trial');
    const before = tf.memory().numTensors;
    const core = createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), log: () => {}, searcherWaitS: 0 });
    await runTrial(core, entry.factory);
    await core.close();
    expect(tf.memory().numTensors).toBe(before);
    const metric = master.completed[0]!.metric;
    expect(master.validation[0]!.metrics[config.searcher.metric]).toBe(metric);
    if (name === 'mnist') expect(metric).toBeGreaterThan(0.5); // accuracy; chance is 0.1
    else expect(metric).toBeLessThan(master.training[0]!.metrics.loss!);
  });
});
