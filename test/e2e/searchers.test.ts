// adaptive ASHA and Bayesian optimization experiments on the example model, end to end on a local cluster.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '@hone/protocol';
import { api, runCli, startAgentProcess, startMasterProcess, tmpDir, type MasterProc, type Proc } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';

describe('searchers on the local cluster', () => {
  let master: MasterProc;
  let agent: Proc;
  beforeAll(async () => {
    const dataDir = tmpDir('searchers');
    master = await startMasterProcess({ dataDir });
    agent = startAgentProcess({ masterUrl: master.url, id: 'agent-searchers', slots: 2, workDir: path.join(dataDir, 'work') });
  }, 120_000);
  afterAll(async () => {
    await agent?.kill();
    await master?.kill();
  });

  it('runs adaptive_asha to completion and describe shows the rungs reached', async () => {
    const created = await runCli(['-m', master.url, '--json', 'experiment', 'create', 'examples/synthetic/adaptive_asha.yaml', 'examples/synthetic']);
    expect(created.code).toBe(0);
    const id = JSON.parse(created.stdout).id as number;
    const exp = await waitForExperimentEnd(master.url, id, 400_000);
    expect(exp.state).toBe('COMPLETED');
    expect(exp.trials.length).toBe(8);
    expect(exp.rungs).toBeDefined();
    const rungs = exp.rungs!;
    // The most aggressive bracket starts at the bottom rung; fewer of its trials reach its top rung.
    const b0 = rungs.filter((r) => r.bracket === 0);
    expect(b0.length).toBeGreaterThanOrEqual(2);
    expect(b0[0]!.trials).toBeGreaterThan(b0[b0.length - 1]!.trials);
    expect(b0[b0.length - 1]!.length).toBe(256);
    expect(rungs.filter((r) => r.length === 256).reduce((n, r) => n + r.trials, 0)).toBeGreaterThanOrEqual(1);
    // Trials stopped early trained less than the full length.
    expect(exp.trials.some((t) => t.completedLength < 256)).toBe(true);
    const described = await runCli(['-m', master.url, 'experiment', 'describe', String(id)]);
    expect(described.stdout).toContain('Rungs:');
    expect(described.stdout).toContain('Trials reached');
  }, 420_000);

  it('runs bayesian to completion with distinct suggestions', async () => {
    const created = await runCli(['-m', master.url, '--json', 'experiment', 'create', 'examples/synthetic/bayesian.yaml', 'examples/synthetic']);
    expect(created.code).toBe(0);
    const id = JSON.parse(created.stdout).id as number;
    const exp: ExperimentDetail = await waitForExperimentEnd(master.url, id, 400_000);
    expect(exp.state).toBe('COMPLETED');
    expect(exp.trials).toHaveLength(8);
    const points = exp.trials.map((t) => JSON.stringify([t.hparams.learning_rate, t.hparams.hidden_units]));
    expect(new Set(points).size).toBe(8);
    for (const t of exp.trials) {
      expect(t.state).toBe('COMPLETED');
      expect(t.bestValidation).not.toBeNull();
    }
    const summary = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`);
    expect(summary.body.bestMetric).toBe(Math.min(...exp.trials.map((t) => t.bestValidation!)));
  }, 420_000);
});
