// An errored trial says why: the exit, the failing rank's last error line and the restart history reach the API
// (and so `trial describe` and the web UI); an experiment whose trials all errored ends in ERROR.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, TrialDetail } from '@hone/protocol';
import { archive } from '../helpers/archive';
import { waitForExperimentEnd } from '../helpers/experiments';
import { api, startAgentProcess, startMasterProcess, tmpDir, type MasterProc, type Proc } from '../helpers/processes';

describe('failed trials', () => {
  let master: MasterProc;
  let agent: Proc;
  const dataDir = tmpDir('failures');

  beforeAll(async () => {
    master = await startMasterProcess({ dataDir });
    agent = startAgentProcess({ masterUrl: master.url, id: 'agent-fail', slots: 1, workDir: path.join(dataDir, 'work') });
  }, 120_000);
  afterAll(async () => {
    await agent?.kill();
    await master?.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('records why each run failed and ends an all-errored experiment in ERROR, with max_restarts restarts', async () => {
    const train = `export default async function train(core) {
  console.log('starting');
  console.error('WARNING: about to fail');
  throw new Error('disk quota exceeded while loading data');
}
`;
    const config = `
name: failing
entrypoint: train.ts
hyperparameters: {x: {type: categorical, vals: [1, 2]}}
searcher: {name: grid, metric: loss, max_length: 10, max_concurrent_trials: 1}
max_restarts: 1
`;
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config, context: (await archive({ 'train.ts': train })).toString('base64') });
    expect(created.status).toBe(201);
    const exp = await waitForExperimentEnd(master.url, created.body.id, 180_000);
    expect(exp.state).toBe('ERROR');
    expect(exp.trials).toHaveLength(2);
    for (const t of exp.trials) {
      expect(t.state).toBe('ERROR');
      // max_restarts: 1 allows one restart: two runs, the second failure ends the trial.
      expect(t.restarts).toBe(1);
      expect(t.failure).toMatch(/^rank 0 exited with 1: .*disk quota exceeded while loading data/);
      const detail = (await api<TrialDetail>(master.url, 'GET', `/trials/${t.id}`)).body;
      expect(detail.allocations).toHaveLength(2);
      for (const a of detail.allocations) {
        expect(a).toMatchObject({ state: 'TERMINATED', exitCode: 1, exitReason: 'rank 0 exited with 1', failed: true, agents: ['agent-fail'] });
        expect(a.lastError).toContain('disk quota exceeded while loading data');
        expect(a.startedAt).not.toBeNull();
        expect(a.endedAt).not.toBeNull();
      }
    }
    const listed = (await api<ExperimentDetail>(master.url, 'GET', `/experiments/${created.body.id}`)).body;
    expect(listed.trialStates).toEqual({ ERROR: 2 });
  }, 200_000);
});
