// The reconciler over the real repositories (PGlite and PostgreSQL) with a scripted cloud: a master restarted
// mid-launch repeats the launch with the same key (one instance), leaked instances are terminated, a failed list
// changes nothing, capacity errors back off, vanished instances end their rows, agents registering move rows on.
import { expect, it, beforeEach } from 'vitest';
import { describeBoth } from '../db/both';
import { addAllocation, addExperimentWithTrial } from '../db/fixtures';
import { insertRequested, instanceHistory, listInstances, masterId } from '../../master/src/db/instances';
import { parseProviderConfig } from '../../master/src/provisioner/config';
import { PoolReconciler } from '../../master/src/provisioner/reconciler';
import { LaunchError, type CloudInstance, type LaunchRequest, type Provider } from '../../master/src/provisioner/providers/provider';
import type { AgentView } from '../../master/src/provisioner/snapshot';

class FakeCloud implements Provider {
  readonly type = 'fake';
  instances = new Map<string, CloudInstance>();
  launches: LaunchRequest[] = [];
  terminated: string[] = [];
  failList = false;
  failLaunch: LaunchError | null = null;
  async list(): Promise<CloudInstance[]> {
    if (this.failList) throw new Error('RequestLimitExceeded: throttled');
    return [...this.instances.values()];
  }
  async launch(req: LaunchRequest): Promise<{ cloudId: string }> {
    this.launches.push(req);
    if (this.failLaunch) throw this.failLaunch;
    const existing = this.instances.get(req.key);
    if (existing) return { cloudId: existing.cloudId };
    const cloudId = `c-${this.instances.size + 1}`;
    this.instances.set(req.key, { id: req.id, key: req.key, cloudId, state: 'pending' });
    return { cloudId };
  }
  async terminate(list: Array<{ key: string; cloudId: string | null }>): Promise<void> {
    for (const i of list) {
      this.terminated.push(i.cloudId ?? i.key);
      this.instances.delete(i.key);
    }
  }
}

const quiet = { info: () => undefined, warn: () => undefined };
const config = parseProviderConfig({ type: 'local', max_instances: 3, slots_per_instance: 1, idle_timeout: 10, max_starting_period: 60, launch_backoff: 30 }, 'p');

describeBoth('provisioner reconciler', (t) => {
  let cloud: FakeCloud;
  let agents: AgentView[];
  let id: string;
  const reconciler = async () => new PoolReconciler({ db: t.db, pool: 'auto', config, provider: cloud, masterId: id, masterUrl: () => 'http://m', agents: () => agents, onChange: () => undefined, log: quiet });
  beforeEach(async () => {
    await t.db.query('DELETE FROM instances');
    cloud = new FakeCloud();
    agents = [];
    id = await masterId(t.db);
  });

  it('launches for pending work, registers agents, and never launches twice for one row across a restart', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    await addAllocation(t.db, experimentId, trialId, 1, 'auto');
    await addAllocation(t.db, experimentId, trialId, 1, 'auto');
    // A master that wrote a row and died before the cloud answered: the next master launches it with its key.
    await insertRequested(t.db, { id: 'auto-aaaa', pool: 'auto', provider: 'local', idempotencyKey: 'key-a', instanceType: 'local', slots: 1, reason: 'launch' });
    // ... and the cloud had in fact started it.
    cloud.instances.set('key-a', { id: 'auto-aaaa', key: 'key-a', cloudId: 'c-0', state: 'pending' });
    const r = await reconciler();
    const d = await r.pass();
    expect(d.launch).toBe(1);
    expect(cloud.instances.size).toBe(2);
    expect(cloud.launches.map((l) => l.key)).not.toContain('key-a');
    let rows = await listInstances(t.db, 'auto');
    expect(rows.map((x) => x.state)).toEqual(['launching', 'launching']);
    // A second pass (or a second master) launches nothing more.
    expect((await (await reconciler()).pass()).launch).toBe(0);
    expect(cloud.instances.size).toBe(2);
    // The agents register: idle (no allocation placed on them yet).
    agents = rows.map((x) => ({ id: x.id, pool: 'auto', slots: 1 }));
    await r.pass();
    rows = await listInstances(t.db, 'auto');
    expect(rows.map((x) => x.state)).toEqual(['idle', 'idle']);
    expect((await instanceHistory(t.db, 'auto-aaaa')).map((h) => h.to)).toEqual(['requested', 'launching', 'idle']);
  });

  it('a failed list changes nothing; a leaked instance is terminated; a vanished one ends its row', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    await addAllocation(t.db, experimentId, trialId, 1, 'auto');
    const r = await reconciler();
    await r.pass();
    expect(cloud.instances.size).toBe(1);
    cloud.failList = true;
    const d = await r.pass(Date.now() + 3_600_000);
    expect(d).toMatchObject({ launch: 0, terminate: [] });
    expect(r.status().lastReasons[0]).toMatch(/did not list .*throttled/);
    expect((await listInstances(t.db, 'auto')).map((x) => x.state)).toEqual(['launching']);
    cloud.failList = false;
    // A leak: tagged for this master and pool, unknown to the rows.
    cloud.instances.set('stray', { id: 'auto-stray', key: 'stray', cloudId: 'c-stray', state: 'running' });
    await r.pass();
    expect(cloud.terminated).toContain('c-stray');
    // The launched one disappears (spot interruption): its row ends, and its demand is launched again.
    const [row] = await listInstances(t.db, 'auto');
    cloud.instances.clear();
    await r.pass();
    const all = await listInstances(t.db, 'auto', { all: true });
    expect(all.find((x) => x.id === row!.id)).toMatchObject({ state: 'terminated', reason: 'vanished' });
    expect(all.filter((x) => x.state === 'launching')).toHaveLength(1);
  });

  it('capacity errors back off instead of thrashing', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    await addAllocation(t.db, experimentId, trialId, 1, 'auto');
    cloud.failLaunch = new LaunchError('InsufficientInstanceCapacity: none left', 'capacity');
    const r = await reconciler();
    const now = Date.now();
    await r.pass(now);
    expect(cloud.launches).toHaveLength(1);
    for (let s = 1; s < 30; s += 5) await r.pass(now + s * 1000);
    expect(cloud.launches).toHaveLength(1);
    expect(r.status()).toMatchObject({ launchFailures: 1 });
    expect(r.status().lastReasons.join(' ')).toMatch(/backing off after 1 failed launch/);
    cloud.failLaunch = null;
    await r.pass(Date.now() + 31_000);
    expect(cloud.launches).toHaveLength(2);
    const all = await listInstances(t.db, 'auto', { all: true });
    expect(all.find((x) => x.state === 'terminated')!.reason).toMatch(/^launch-error \(capacity\)/);
  });

  it('a restarted master keeps backing off after launch errors (the count comes from the history), until an agent registers', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    await addAllocation(t.db, experimentId, trialId, 1, 'auto');
    cloud.failLaunch = new LaunchError('InsufficientInstanceCapacity: none left', 'capacity');
    const first = await reconciler();
    await first.pass(Date.now());
    await first.pass(Date.now() + 31_000);
    expect(cloud.launches).toHaveLength(2);
    expect(first.status()).toMatchObject({ launchFailures: 2 });
    // The master restarts: the new reconciler starts where the old one was (2 failures, backing off).
    cloud.failLaunch = null;
    const second = await reconciler();
    await second.pass(Date.now() + 5_000);
    expect(cloud.launches).toHaveLength(2);
    expect(second.status()).toMatchObject({ launchFailures: 2 });
    expect(second.status().lastReasons.join(' ')).toMatch(/backing off after 2 failed launch/);
    // After the back-off it launches; once that instance's agent registers, the run of failures is over.
    await second.pass(Date.now() + 10 * 60_000);
    expect(cloud.launches).toHaveLength(3);
    agents = (await listInstances(t.db, 'auto')).map((x) => ({ id: x.id, pool: 'auto', slots: 1 }));
    await second.pass();
    expect(second.status()).toMatchObject({ launchFailures: 0 });
    const third = await reconciler();
    await third.pass();
    expect(third.status()).toMatchObject({ launchFailures: 0 });
  });
});
