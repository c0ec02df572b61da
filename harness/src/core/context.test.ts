import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { createCoreContext } from './context';
import { MemoryMaster } from './memoryMaster';

const base = { entrypoint: 'train.ts', searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 10 } } };

async function core(master: MemoryMaster) {
  return createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), log: () => {}, searcherWaitS: 0, metricsFlushIntervalMs: 10 });
}

describe('core context', () => {
  it('yields operations until the trial is closed, and insists each is reported', async () => {
    const master = new MemoryMaster({ config: parseExperimentConfig(base), ops: [5, 10] });
    const c = await core(master);
    const lengths: number[] = [];
    for await (const op of c.searcher.operations()) {
      lengths.push(op.length);
      await op.reportCompleted(op.length / 10);
    }
    expect(lengths).toEqual([5, 10]);
    expect(master.completed).toEqual([{ length: 5, metric: 0.5 }, { length: 10, metric: 1 }]);

    const again = new MemoryMaster({ config: parseExperimentConfig(base), ops: [5, 10] });
    const c2 = await core(again);
    const run = async () => {
      for await (const _op of c2.searcher.operations()) {
        // not reported
      }
    };
    await expect(run()).rejects.toThrow(/not reported complete/);
    await c.close();
    await c2.close();
  });

  it('ends the operations when none comes within the wait (paused at a rung)', async () => {
    const master = new MemoryMaster({ config: parseExperimentConfig(base), ops: [5], pauseAfterOps: true });
    const c = await core(master);
    let n = 0;
    for await (const op of c.searcher.operations()) {
      n++;
      await op.reportCompleted(1);
    }
    expect(n).toBe(1);
    await c.close();
  });

  it('stops waiting for work when the allocation is preempted', async () => {
    const master = new MemoryMaster({ config: parseExperimentConfig(base), ops: [], pauseAfterOps: true });
    const c = createCoreContext({ client: master, info: await master.getAllocationInfo(master.allocationId), log: () => {}, searcherWaitS: 600 });
    setTimeout(() => (master.preempt = true), 50);
    const lengths: number[] = [];
    for await (const op of c.searcher.operations()) lengths.push(op.length);
    expect(lengths).toEqual([]);
    expect(c.preemption.shouldPreempt()).toBe(true);
    await c.close();
  });

  it('sends the first training point at once, batches the rest and flushes them before validation', async () => {
    const master = new MemoryMaster({ config: parseExperimentConfig(base) });
    const calls: string[] = [];
    master.onCall = (m, arg) => m === 'reportMetrics' && calls.push(`${(arg as { group: string }).group}:${(arg as { points: unknown[] }).points.length}`);
    const c = await core(master);
    for (let i = 1; i <= 5; i++) c.train.reportTrainingMetrics(i, { loss: 1 / i, bad: NaN });
    await c.train.reportValidationMetrics(5, { validation_loss: 0.1 });
    expect(calls).toEqual(['training:1', 'training:4', 'validation:1']);
    expect(master.training[4]).toEqual({ stepsCompleted: 5, metrics: { loss: 0.2 } });
    await c.close();
  });

  it('stores a directory to shared_fs, registers it, and restores it elsewhere', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'hone-ctx-'));
    const config = parseExperimentConfig({ ...base, checkpoint_storage: { type: 'shared_fs', host_path: root, storage_path: 'ckpts' } });
    const master = new MemoryMaster({ config });
    const c = await core(master);
    const stored = await c.checkpoint.store({ 'a.txt': new TextEncoder().encode('hello'), 'sub/b.bin': new Uint8Array([1, 2, 3]) }, 7, { note: 'x' });
    expect(stored!.resources).toEqual({ 'a.txt': 5, 'sub/b.bin': 3 });
    expect(await readFile(path.join(root, 'ckpts', stored!.uuid, 'sub/b.bin'))).toEqual(Buffer.from([1, 2, 3]));
    const out = await mkdtemp(path.join(os.tmpdir(), 'hone-restore-'));
    const files = await c.checkpoint.restore(stored!, out);
    expect(new TextDecoder().decode(files['a.txt'])).toBe('hello');
    expect(await readFile(path.join(out, 'sub/b.bin'))).toEqual(Buffer.from([1, 2, 3]));
    const byUuid = await c.checkpoint.restore(stored!.uuid);
    expect(Object.keys(byUuid).sort()).toEqual(['a.txt', 'sub/b.bin']);
    await c.close();
  });

  it('sees the preemption flag from the long-poll', async () => {
    const master = new MemoryMaster({ config: parseExperimentConfig(base) });
    const c = await core(master);
    expect(c.preemption.shouldPreempt()).toBe(false);
    master.preempt = true;
    for (let i = 0; i < 100 && !c.preemption.shouldPreempt(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await c.preemption.shouldPreemptAll()).toBe(true);
    await c.close();
  });
});
