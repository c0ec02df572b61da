// Priority preemption with real agent processes: a low-priority experiment fills the cluster, a
// high-priority one arrives; the low one checkpoints and waits, the high one runs, then the low one resumes
// from its checkpoint and completes with no repeated or lost steps.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, JobInfo, MetricPoint } from '@hone/protocol';
import { api, runCli, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { packContext } from '../../cli/src/context';

describe('priority preemption', () => {
  let master: MasterProc;
  const agents: Proc[] = [];
  beforeAll(async () => {
    const dataDir = tmpDir('preempt');
    master = await startMasterProcess({ dataDir, args: ['--preemption-timeout-s', '120'] });
    agents.push(startAgentProcess({ masterUrl: master.url, id: 'gpu-a', slots: 1, pool: 'default', workDir: path.join(dataDir, 'a') }));
    agents.push(startAgentProcess({ masterUrl: master.url, id: 'gpu-b', slots: 1, pool: 'default', workDir: path.join(dataDir, 'b') }));
    await waitFor('two agents', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.filter((a) => a.state === 'CONNECTED').length === 2);
  }, 120_000);
  afterAll(async () => {
    for (const a of agents) await a.kill();
    await master?.kill();
  });

  const config = (name: string, priority: number, batches: number) =>
    fs
      .readFileSync('examples/synthetic/single.yaml', 'utf8')
      .replace('name: synthetic-single', `name: ${name}`)
      .replace(/max_length:\n\s+batches: \d+/, `max_length:\n    batches: ${batches}`)
      .replace(/min_validation_period:\n\s+batches: \d+\n/, '')
      .replace('slots_per_trial: 1', `slots_per_trial: 2\n  priority: ${priority}`);

  it('preempts the low-priority trial, runs the high one, then resumes the low one from its checkpoint', async () => {
    const { data } = await packContext('examples/synthetic', 96 << 20);
    const low = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: config('low', 60, 1500), context: data.toString('base64') });
    expect(low.status).toBe(201);
    // The low-priority trial trains on both slots (two ranks, one per agent).
    await waitFor('low trial training', async () => {
      const d = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${low.body.id}`);
      return d.body.trials[0]?.latestTraining ? d.body.trials[0] : null;
    }, 180_000);

    const high = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: config('high', 10, 100), context: data.toString('base64') });
    expect(high.status).toBe(201);
    const jobs = await api<JobInfo[]>(master.url, 'GET', '/jobs');
    expect(jobs.body.length).toBeGreaterThanOrEqual(1);
    const cliJobs = await runCli(['-m', master.url, 'job', 'list']);
    expect(cliJobs.code).toBe(0);

    const highDone = await waitForExperimentEnd(master.url, high.body.id, 300_000);
    expect(highDone.state).toBe('COMPLETED');
    // While the high one ran, the low one was not running: it has a checkpoint from the preemption.
    const lowMid = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${low.body.id}`);
    expect(lowMid.body.trials[0]!.latestCheckpoint).not.toBeNull();

    const lowDone = await waitForExperimentEnd(master.url, low.body.id, 400_000);
    expect(lowDone.state).toBe('COMPLETED');
    const t = lowDone.trials[0]!;
    expect(t.completedLength).toBe(1500);
    if (t.restarts !== 0) {
      const l = await api<Array<{ rank: number; line: string }>>(master.url, 'GET', `/trials/${t.id}/logs`);
      console.log(l.body.map((x) => `[${x.rank}] ${x.line}`).join('\n'));
    }
    expect(t.restarts).toBe(0);
    const trainPoints = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${t.id}/metrics?group=training&raw=true`)).body.points;
    const steps = trainPoints.map((p) => p.stepsCompleted);
    // No step reported twice (nothing retrained past the checkpoint), steps strictly increasing across the resume.
    expect(new Set(steps).size).toBe(steps.length);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(steps[steps.length - 1]).toBe(1500);
    const logs = await api<Array<{ line: string }>>(master.url, 'GET', `/trials/${t.id}/logs`);
    expect(logs.body.some((l) => /preempt/i.test(l.line))).toBe(true);
  }, 700_000);
});
