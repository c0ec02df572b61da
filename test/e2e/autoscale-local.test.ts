// Autoscaling with the `local` provider: a pool with min 0 / max 3 and no agents. An 8-trial experiment makes the
// provisioner start agent processes; the master is SIGKILLed while they start and restarted: it launches no
// duplicate and leaks none; the trials complete; the idle agents are terminated after idle_timeout.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentInfo, ExperimentDetail } from '@hone/protocol';
import { api, freePort, runCli, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { packContext } from '../../cli/src/context';
import { killLocalInstances } from '../../master/src/provisioner/providers/local';

interface PoolView {
  pool: string;
  lastReasons: string[];
  instancesByState: Record<string, number>;
  instances: Array<{ id: string; state: string; reason: string | null }>;
}

/** Agent processes of the pool that are alive now (their instance files name them). */
function liveAgentPids(dir: string): number[] {
  if (!fs.existsSync(dir)) return [];
  const pids: number[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { pid: number };
    try {
      process.kill(r.pid, 0);
      const stat = fs.readFileSync(`/proc/${r.pid}/stat`, 'utf8');
      if (!/^\d+ \(.*\) Z/.test(stat)) pids.push(r.pid);
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe('autoscaling with the local provider', () => {
  const procs: Proc[] = [];
  let instancesDir = '';
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    if (instancesDir) killLocalInstances(instancesDir);
  });

  it('scales up for an experiment, survives a SIGKILL mid-scale-up without duplicates or leaks, and scales down when idle', async () => {
    const dataDir = tmpDir('autoscale');
    instancesDir = path.join(dataDir, 'local-instances', 'auto');
    const port = await freePort();
    const configFile = path.join(dataDir, 'master.yaml');
    fs.writeFileSync(
      configFile,
      [
        'resource_pools:',
        '  - name: auto',
        '    provider:',
        '      type: local',
        '      min_instances: 0',
        '      max_instances: 3',
        '      slots_per_instance: 1',
        '      idle_timeout: 4',
        '      max_starting_period: 90',
        '      reconcile_interval: 0.5',
        '',
      ].join('\n'),
    );
    const args = ['--config', configFile];
    let master: MasterProc = await startMasterProcess({ dataDir, port, args });
    procs.push(master);
    const pools = async () => (await api<PoolView[]>(master.url, 'GET', '/provisioner/pools')).body;
    expect((await pools())[0]).toMatchObject({ pool: 'auto', instancesByState: { requested: 0, launching: 0, running: 0, idle: 0 } });

    const config = fs
      .readFileSync('examples/synthetic/random.yaml', 'utf8')
      .replace(/batches: \d+/, 'batches: 16')
      .replace('max_trials: 4', 'max_trials: 8')
      .replace('max_concurrent_trials: 2', 'max_concurrent_trials: 8')
      .concat('resources:\n  resource_pool: auto\n');
    const { data } = await packContext('examples/synthetic', 96 << 20);
    // A gang no 3 instances of 1 slot can hold is refused at once; one that 3 can hold is accepted with no agent yet.
    const tooBig = await api(master.url, 'POST', '/experiments', { config: config.replace('resource_pool: auto', 'resource_pool: auto\n  slots_per_trial: 4'), context: data.toString('base64') });
    expect(tooBig.status).toBe(422);
    expect(tooBig.body.error.message).toMatch(/needs 4 whole agents .*at most max_instances: 3 instances of 1 slots/);
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config, context: data.toString('base64') });
    expect(created.status).toBe(201);

    // Mid-scale-up: instances launched, agents not registered yet. Kill the master outright there.
    const starting = await waitFor('instances to be launched', async () => {
      const p = (await pools())[0]!;
      return p.instances.length > 0 && p.instances.every((i) => i.state === 'requested' || i.state === 'launching') ? p : null;
    }, 60_000, 100);
    expect(starting.instances.length).toBeLessThanOrEqual(3);
    await master.kill('SIGKILL');
    const before = liveAgentPids(instancesDir);
    expect(before.length).toBeGreaterThan(0);

    master = await startMasterProcess({ dataDir, port, args });
    procs.push(master);
    // Every agent that joins is one of the provisioner's instances, and there are never more than max of them.
    let seenMax = 0;
    const exp = await waitFor(
      'the experiment to end',
      async () => {
        const p = (await pools())[0]!;
        const alive = p.instances.filter((i) => i.state !== 'terminated').length;
        seenMax = Math.max(seenMax, alive, liveAgentPids(instancesDir).length);
        const d = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${created.body.id}`);
        return ['COMPLETED', 'ERROR', 'CANCELED'].includes(d.body.state) ? d.body : null;
      },
      300_000,
      500,
    );
    expect(exp.state).toBe('COMPLETED');
    expect(exp.trials).toHaveLength(8);
    expect(exp.trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    expect(seenMax).toBeLessThanOrEqual(3);

    const afterRestart = (await pools())[0]!;
    // No duplicate: the instances started before the kill are the ones that ran (no row beyond them was needed
    // while they were starting), and none was ever above max.
    const ids = afterRestart.instances.map((i) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    // 8 pending trials want more than max: exactly max instances were ever launched, across the restart.
    expect(ids).toHaveLength(3);
    const agents = (await api<AgentInfo[]>(master.url, 'GET', '/agents')).body;
    for (const a of agents) expect(ids).toContain(a.id);

    // Scale-down: every instance idle for idle_timeout is terminated, and its process is gone.
    const done = await waitFor('idle instances to be terminated', async () => {
      const p = (await pools())[0]!;
      return p.instances.every((i) => i.state === 'terminated') ? p : null;
    }, 60_000, 500);
    expect(done.instances.filter((i) => i.reason === 'idle').length).toBeGreaterThan(0);
    expect(done.lastReasons.join(' ')).toMatch(/no pending work/);
    await waitFor('agent processes to exit', async () => liveAgentPids(instancesDir).length === 0, 30_000);
    const listed = await runCli(['-m', master.url, 'resource-pool', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/auto .*local 0-3 × local/);
    expect(listed.stdout).toMatch(/Pool auto: the provisioner last said/);
    expect(listed.stdout).toMatch(/no pending work/);
    expect(listed.stdout).toMatch(/terminated .*idle/);
    const metrics = await fetch(`${master.url}/metrics`, { headers: { authorization: `Bearer ${master.token}` } }).then((r) => r.text());
    expect(metrics).toMatch(/hone_instances\{pool="auto",state="idle"\} 0/);
    expect(metrics).toMatch(/hone_instance_terminations_total\{pool="auto",reason="idle"\} [1-9]/);
  }, 600_000);
});
