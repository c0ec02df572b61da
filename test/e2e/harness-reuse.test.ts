// Harness reuse (as Ray Tune's reuse_actors): on a 1-slot agent, single-rank trials of one experiment that end
// cleanly hand their process to the next trial, and each trial still imports the user's module afresh; once the
// experiment ended, its waiting process goes and the next experiment's trial runs in a process of its own.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricPoint } from '@hone/protocol';
import { packContext } from '../../cli/src/context';
import { waitForExperimentEnd } from '../helpers/experiments';
import { api, startAgentProcess, startMasterProcess, tmpDir, waitFor, type Proc } from '../helpers/processes';

// A core-API trial that reports its process id and how many times its module was evaluated in that process.
const TRAIN = `
const g = globalThis;
g.__reuseImports = (g.__reuseImports ?? 0) + 1;
let moduleRuns = 0;
moduleRuns += 1;
export default async function train(core) {
  let steps = 0;
  for await (const op of core.searcher.operations()) {
    while (steps < op.length) {
      await new Promise((r) => setTimeout(r, 50));
      steps += 1;
      core.train.reportTrainingMetrics(steps, { pid: process.pid, module_runs: moduleRuns, imports_in_process: g.__reuseImports });
    }
    await core.train.reportValidationMetrics(steps, { validation_loss: 1 / steps });
    await op.reportCompleted(1 / steps);
  }
}
`;

const CONFIG = `name: reuse
entrypoint: train.js
hyperparameters:
  x: {type: double, minval: 0, maxval: 1}
searcher:
  name: random
  metric: validation_loss
  smaller_is_better: true
  max_trials: 4
  max_concurrent_trials: 1
  max_length: {batches: 2}
max_restarts: 0
`;

describe('harness reuse', () => {
  const procs: Proc[] = [];
  afterAll(async () => {
    for (const p of procs) await p.kill();
  });

  it('runs the next trial of the experiment in the process of the one that ended cleanly, with the module loaded afresh', async () => {
    const dataDir = tmpDir('reuse');
    const model = path.join(dataDir, 'model');
    fs.mkdirSync(model);
    fs.writeFileSync(path.join(model, 'train.js'), TRAIN);
    const master = await startMasterProcess({ dataDir });
    procs.push(master);
    const agent = startAgentProcess({ masterUrl: master.url, id: 'reuse-a', slots: 1, workDir: path.join(dataDir, 'work') });
    procs.push(agent);
    const { data } = await packContext(model, 8 << 20);
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: CONFIG, context: data.toString('base64') });
    expect(created.status).toBe(201);
    const ended = await waitForExperimentEnd(master.url, created.body.id, 180_000);
    expect(ended.state).toBe('COMPLETED');
    expect(ended.trials).toHaveLength(4);
    const runs: Array<{ trial: number; pid: number; moduleRuns: number; imports: number }> = [];
    for (const tr of [...ended.trials].sort((a, b) => a.id - b.id)) {
      expect(tr.state, `trial ${tr.id}`).toBe('COMPLETED');
      expect(tr.restarts, `trial ${tr.id}`).toBe(0);
      const points = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${tr.id}/metrics?group=training&raw=true`)).body.points;
      expect(points.map((p) => p.stepsCompleted)).toEqual([1, 2]);
      const m = points[0]!.metrics;
      runs.push({ trial: tr.id, pid: m.pid!, moduleRuns: m.module_runs!, imports: m.imports_in_process! });
    }
    // Every trial evaluated the user's module itself: no state of an earlier trial's module leaks into it.
    for (const r of runs) expect(r.moduleRuns, `trial ${r.trial}`).toBe(1);
    // At least one trial ran in a process an earlier trial had used, and that process had imported the module
    // once per trial it ran.
    const reused = runs.filter((r, i) => runs.slice(0, i).some((e) => e.pid === r.pid));
    expect(reused.length, JSON.stringify(runs)).toBeGreaterThan(0);
    for (const r of reused) expect(r.imports, JSON.stringify(runs)).toBe(runs.filter((e) => e.pid === r.pid && e.trial <= r.trial).length);

    // The experiment ended: the master tells the agent, which stops the process that waited for its next trial
    // (and fills its pool with a pre-warmed one). Another experiment's trial never runs in an earlier one's process.
    await waitFor('the end notice', async () => agent.output.some((l) => l.includes('experiment ended: stopped the harnesses waiting for its trials')), 30_000);
    const next = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: CONFIG.replace('max_trials: 4', 'max_trials: 1'), context: data.toString('base64') });
    expect(next.status).toBe(201);
    const ended2 = await waitForExperimentEnd(master.url, next.body.id, 180_000);
    expect(ended2.state).toBe('COMPLETED');
    const p2 = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${ended2.trials[0]!.id}/metrics?group=training&raw=true`)).body.points[0]!.metrics;
    expect(runs.map((r) => r.pid)).not.toContain(p2.pid);
    expect(p2.imports_in_process).toBe(1);
  }, 300_000);
});
