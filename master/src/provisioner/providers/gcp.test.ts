// The gcp provider with a stand-in for InstancesClient (the real client loads on Node 20; its calls are checked here).
import { describe, expect, it } from 'vitest';
import { parseProviderConfig } from '../config';
import { GcpProvider, gceName, type GceInstances } from './gcp';
import { LaunchError } from './provider';

const config = parseProviderConfig({ type: 'gcp', project: 'proj', zone: 'europe-west4-a', source_image: 'projects/p/global/images/hone', instance_type: 'g2-standard-4', max_instances: 2, preemptible: true }, 'p');
const req = { id: 'GPU.pool-1234abcd', key: '1234abcd-0000-4000-8000-000000000000', pool: 'GPU.pool', masterId: 'hone-m1', slots: 1, instanceType: 'g2-standard-4', masterUrl: 'https://m:8080', agentToken: 't' };

function stub(over: Partial<GceInstances> = {}) {
  const calls: Array<[string, any]> = [];
  const client: GceInstances = {
    list: async (r) => (calls.push(['list', r]), [[]]),
    insert: async (r) => (calls.push(['insert', r]), {}),
    delete: async (r) => (calls.push(['delete', r]), {}),
    ...over,
  };
  return { calls, client };
}

describe('gcp provider', () => {
  it('inserts a labelled, named instance with the launch key as requestId and the agent boot script', async () => {
    const s = stub();
    const p = new GcpProvider({ pool: 'GPU.pool', masterId: 'hone-m1', config, client: s.client });
    expect(await p.launch(req)).toEqual({ cloudId: 'hgpu-pool-1234abcd' });
    const [kind, r] = s.calls[0]!;
    expect(kind).toBe('insert');
    expect(r.requestId).toBe(req.key);
    expect(r.instanceResource).toMatchObject({
      name: 'hgpu-pool-1234abcd',
      machineType: 'zones/europe-west4-a/machineTypes/g2-standard-4',
      labels: { 'hone-master': 'hhone-m1', 'hone-pool': 'hgpu-pool', 'hone-instance': 'hgpu-pool-1234abcd', 'hone-launch-key': `h${req.key}` },
      scheduling: { preemptible: true, automaticRestart: false, onHostMaintenance: 'TERMINATE' },
    });
    expect(r.instanceResource.metadata.items[0].value).toContain("--pool 'GPU.pool' --id 'GPU.pool-1234abcd' --slots 1");
  });

  it('a repeated insert (already exists) is the same launch; capacity errors are told apart', async () => {
    const exists = new GcpProvider({ pool: 'p', masterId: 'm', config, client: stub({ insert: async () => Promise.reject(Object.assign(new Error('already exists'), { code: 409 })) }).client });
    await expect(exists.launch(req)).resolves.toEqual({ cloudId: gceName(req.id) });
    const full = new GcpProvider({ pool: 'p', masterId: 'm', config, client: stub({ insert: async () => Promise.reject(Object.assign(new Error('ZONE_RESOURCE_POOL_EXHAUSTED'), { code: 503 })) }).client });
    const e = await full.launch(req).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LaunchError);
    expect((e as LaunchError).kind).toBe('capacity');
  });

  it('lists by label (every page) and maps states; a failed list throws', async () => {
    const s = stub({
      list: async () => [[
        { name: 'ha', status: 'RUNNING', labels: { 'hone-instance': 'ha', 'hone-launch-key': 'hk1' } },
        { name: 'hb', status: 'STAGING', labels: { 'hone-instance': 'hb', 'hone-launch-key': 'hk2' } },
        { name: 'other', status: 'RUNNING', labels: {} as Record<string, string> },
      ]],
    });
    const p = new GcpProvider({ pool: 'GPU.pool', masterId: 'hone-m1', config, client: s.client });
    expect(await p.list()).toEqual([
      { id: 'ha', key: 'k1', cloudId: 'ha', state: 'running' },
      { id: 'hb', key: 'k2', cloudId: 'hb', state: 'pending' },
    ]);
    const broken = new GcpProvider({ pool: 'p', masterId: 'm', config, client: stub({ list: async () => Promise.reject(new Error('503')) }).client });
    await expect(broken.list()).rejects.toThrow('503');
  });

  it('deletes by name; gone already is done', async () => {
    const s = stub({ delete: async (r) => (r.instance === 'gone' ? Promise.reject(Object.assign(new Error('not found'), { code: 404 })) : {}) });
    const p = new GcpProvider({ pool: 'p', masterId: 'm', config, client: s.client });
    await expect(p.terminate([{ id: 'x', cloudId: 'gone', key: 'k' }, { id: 'y', cloudId: null, key: 'k2' }])).resolves.toBeUndefined();
  });
});
