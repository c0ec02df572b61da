// min_instances with the local provider: the master keeps one agent up with no work at all, and a master that stops
// cleanly (SIGTERM) takes its local agents down with it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentInfo } from '@hone/protocol';
import { api, startMasterProcess, tmpDir, waitFor, type MasterProc } from '../helpers/processes';
import { killLocalInstances } from '../../master/src/provisioner/providers/local';

describe('local provider: min_instances and a clean stop', () => {
  let master: MasterProc | undefined;
  let dir = '';
  afterAll(async () => {
    await master?.kill('SIGKILL');
    if (dir) killLocalInstances(dir);
  });

  it('keeps min_instances agents with no work, and terminates them when the master stops', async () => {
    const dataDir = tmpDir('autoscale-min');
    dir = path.join(dataDir, 'local-instances', 'warm');
    const file = path.join(dataDir, 'master.yaml');
    fs.writeFileSync(file, 'resource_pools:\n  - name: warm\n    provider: {type: local, min_instances: 1, max_instances: 2, slots_per_instance: 2, idle_timeout: 1, reconcile_interval: 0.5}\n');
    master = await startMasterProcess({ dataDir, args: ['--config', file] });
    const m = master;
    const agent = await waitFor('the min_instances agent to join', async () => (await api<AgentInfo[]>(m.url, 'GET', '/agents')).body.find((a) => a.state === 'CONNECTED'), 90_000);
    expect(agent.resourcePool).toBe('warm');
    expect(agent.slots).toHaveLength(2);
    // Idle far longer than idle_timeout: still there (never below min).
    await new Promise((r) => setTimeout(r, 4000));
    const pools = (await api<Array<{ instancesByState: Record<string, number>; lastReasons: string[] }>>(m.url, 'GET', '/provisioner/pools')).body;
    expect(pools[0]!.instancesByState).toMatchObject({ idle: 1, launching: 0, requested: 0 });
    const rec = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.json'))!), 'utf8')) as { pid: number };
    expect(() => process.kill(rec.pid, 0)).not.toThrow();
    await m.kill('SIGTERM');
    master = undefined;
    await waitFor('the agent process to be gone', async () => {
      try {
        process.kill(rec.pid, 0);
        return !!/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${rec.pid}/stat`, 'utf8'));
      } catch {
        return true;
      }
    }, 20_000);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.json'))).toEqual([]);
  }, 180_000);
});
