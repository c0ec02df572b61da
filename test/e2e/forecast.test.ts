// `hone experiment forecast` against a real master: on a provisioned pool (instance-hours, cost, peak instances,
// a timeline), on N slots, from a trial that ran (--profile), and the refusals a user can run into.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runCli, startAgentProcess, startMasterProcess, tmpDir, type MasterProc, type Proc } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { packContext } from '../../cli/src/context';

describe('hone experiment forecast', () => {
  let master: MasterProc;
  const procs: Proc[] = [];
  let dir = '';
  let asha = '';
  beforeAll(async () => {
    dir = tmpDir('forecast');
    const configFile = path.join(dir, 'master.yaml');
    fs.writeFileSync(
      configFile,
      'resource_pools:\n  - name: cloud\n    provider: {type: aws, region: eu-west-1, image_id: ami-1, instance_type: g5.xlarge, max_instances: 4, slots_per_instance: 1, idle_timeout: 300, hourly_cost: 1.2}\n',
    );
    master = await startMasterProcess({ dataDir: dir, args: ['--config', configFile], env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_EC2_METADATA_DISABLED: 'true' } });
    procs.push(master);
    asha = path.join(dir, 'asha.yaml');
    fs.writeFileSync(asha, fs.readFileSync('examples/synthetic/adaptive_asha.yaml', 'utf8').replace('max_concurrent_trials: 2', 'max_concurrent_trials: 4').concat('resources:\n  resource_pool: cloud\n'));
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
  });

  it('forecasts an ASHA search on a provisioned pool: wall clock, instance-hours, cost, peak, timeline', async () => {
    const r = await runCli(['-m', master.url, 'experiment', 'forecast', asha, '--seconds-per-unit', '2', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f).toMatchObject({ pool: 'cloud', poolKind: 'provisioned', trials: 8, finished: true, hourlyCost: 1.2, peakInstances: 4 });
    expect(f.wallClockSeconds).toBeGreaterThan(0);
    expect(f.cost).toBeCloseTo(f.instanceHours * 1.2, 6);
    expect(f.instanceHours).toBeGreaterThanOrEqual(f.busySlotHours);
    expect(f.slotUtilization).toBeGreaterThan(0);
    expect(f.slotUtilization).toBeLessThanOrEqual(1);
    expect(f.timeline.length).toBeGreaterThan(3);
    expect(f.timeline[f.timeline.length - 1].progress).toBe(1);
    // Twice as slow per unit: a longer wall clock.
    const slow = JSON.parse((await runCli(['-m', master.url, 'experiment', 'forecast', asha, '--seconds-per-unit', '4', '--json'])).stdout);
    expect(slow.wallClockSeconds).toBeGreaterThan(f.wallClockSeconds * 1.5);
    const table = await runCli(['-m', master.url, 'experiment', 'forecast', asha, '--seconds-per-unit', '2']);
    expect(table.stdout).toMatch(/Wall-clock/);
    expect(table.stdout).toMatch(/Instance-hours/);
    expect(table.stdout).toMatch(/per instance-hour/);
  });

  it('refuses what cannot be forecast, naming the field', async () => {
    const none = await runCli(['-m', master.url, 'experiment', 'forecast', asha]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/--seconds-per-unit S or --profile TRIAL_ID/);
    const empty = await api(master.url, 'POST', '/experiments/forecast', { config: fs.readFileSync('examples/synthetic/single.yaml', 'utf8'), seconds_per_unit: 1 });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/pool: 'default' has no connected agent and no provider; pass slots/);
    const bad = await api(master.url, 'POST', '/experiments/forecast', { config: 'name: x\nsearcher: {name: nope}\n', seconds_per_unit: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_CONFIG');
    const missing = await api(master.url, 'POST', '/experiments/forecast', { config: fs.readFileSync(asha, 'utf8'), profile_trial_id: 999 });
    expect(missing.status).toBe(404);
  });

  it('--profile takes the time per unit from a trial that ran; --slots forecasts on fixed slots', async () => {
    const agent = startAgentProcess({ masterUrl: master.url, id: 'forecast-agent', slots: 1, workDir: path.join(dir, 'work') });
    procs.push(agent);
    const { data } = await packContext('examples/synthetic', 96 << 20);
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: fs.readFileSync('examples/synthetic/single.yaml', 'utf8'), context: data.toString('base64') });
    expect(created.status).toBe(201);
    const exp = await waitForExperimentEnd(master.url, created.body.id, 180_000);
    expect(exp.state).toBe('COMPLETED');
    const trialId = exp.trials[0]!.id;
    const r = await runCli(['-m', master.url, 'experiment', 'forecast', 'examples/synthetic/single.yaml', '--profile', String(trialId), '--json']);
    expect(r.stderr).toBe('');
    const f = JSON.parse(r.stdout);
    expect(f.poolKind).toBe('fixed');
    expect(f.timing.source).toBe(`trial ${trialId}`);
    expect(f.timing.secondsPerUnit).toBeGreaterThan(0);
    // The forecast of the same experiment on the same single slot is about what the trial took.
    const ran = (Date.parse(exp.trials[0]!.endTime!) - Date.parse(exp.trials[0]!.startTime)) / 1000;
    expect(f.wallClockSeconds).toBeGreaterThan(ran * 0.3);
    expect(f.wallClockSeconds).toBeLessThan(ran * 3);
    const four = JSON.parse((await runCli(['-m', master.url, 'experiment', 'forecast', asha, '--slots', '4', '--profile', String(trialId), '--json'])).stdout);
    expect(four).toMatchObject({ poolKind: 'fixed', pool: '4 slots', peakInstances: 4, cost: null });
  }, 240_000);
});
