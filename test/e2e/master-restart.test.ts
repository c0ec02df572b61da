// Killing the master (SIGKILL) while trials train: on restart it rebuilds everything from the database,
// the agent reconnects and its running tasks are re-adopted; the experiment completes with no trial lost
// or duplicated.
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentInfo, ExperimentDetail, MetricPoint } from '@hone/protocol';
import { api, freePort, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { packContext } from '../../cli/src/context';

describe('master killed while trials train', () => {
  const procs: Proc[] = [];
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
  });

  it('completes the experiment after a SIGKILL and restart, without losing or duplicating trials', async () => {
    const dataDir = tmpDir('restart');
    const port = await freePort();
    let master: MasterProc = await startMasterProcess({ dataDir, port, args: ['--agent-grace-s', '60'] });
    procs.push(master);
    const agent = startAgentProcess({ masterUrl: master.url, id: 'agent-restart', slots: 2, workDir: path.join(dataDir, 'work') });
    procs.push(agent);

    const config = fs.readFileSync('examples/synthetic/random.yaml', 'utf8').replace(/batches: \d+/, 'batches: 300').replace('max_trials: 4', 'max_trials: 3');
    const { data } = await packContext('examples/synthetic', 96 << 20);
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config, context: data.toString('base64') });
    expect(created.status).toBe(201);
    const id = created.body.id;

    // Wait until two trials are training (training metrics reported), then kill the master outright.
    await waitFor('two trials to report training metrics', async () => {
      const d = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`);
      return d.body.trials.filter((t) => t.latestTraining !== null && t.state === 'ACTIVE').length >= 2;
    }, 180_000);
    await master.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 2000));

    master = await startMasterProcess({ dataDir, port, args: ['--agent-grace-s', '60'] });
    procs.push(master);
    await waitFor('the agent to reconnect', async () => {
      const a = await api<AgentInfo[]>(master.url, 'GET', '/agents');
      return a.body.find((x) => x.id === 'agent-restart' && x.state === 'CONNECTED');
    }, 60_000);

    const exp = await waitForExperimentEnd(master.url, id, 300_000);
    expect(exp.state).toBe('COMPLETED');
    expect(exp.trials).toHaveLength(3);
    expect(new Set(exp.trials.map((t) => t.requestId)).size).toBe(3);
    for (const t of exp.trials) {
      expect(t.state).toBe('COMPLETED');
      expect(t.completedLength).toBe(300);
      const v = await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${t.id}/metrics?group=validation&raw=true`);
      // One final validation per trial: the searcher operation was completed exactly once.
      expect(v.body.points.filter((p) => p.stepsCompleted === 300)).toHaveLength(1);
    }
    // The re-adopted tasks were not restarted from scratch: no trial counts a restart.
    expect(exp.trials.every((t) => t.restarts === 0)).toBe(true);
  }, 600_000);
});
