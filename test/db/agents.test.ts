import { expect, it } from 'vitest';
import type { Device } from '@hone/protocol';
import { listAgents, markAgentDisconnected, upsertConnectedAgent } from '../../master/src/db/agents';
import { describeBoth } from './both';

const gpus = (n: number): Device[] => Array.from({ length: n }, (_, id) => ({ id, type: 'gpu', brand: 'NVIDIA H100', uuid: `GPU-${id}`, memoryMiB: 81559 }));

describeBoth('agents repository', (t) => {
  it('records a connecting agent, and updates it in place when it says hello again', async () => {
    await upsertConnectedAgent(t.db, { id: 'gpu-01', pool: 'default', hostname: 'gpu-01.lan', devices: gpus(2), version: '0.1.0' });
    const [first] = await listAgents(t.db);
    expect(first).toEqual({ id: 'gpu-01', pool: 'default', hostname: 'gpu-01.lan', devices: gpus(2), version: '0.1.0', connected: true, lastSeen: expect.any(Date) });
    expect(Math.abs(first!.lastSeen.getTime() - Date.now())).toBeLessThan(60_000);

    await upsertConnectedAgent(t.db, { id: 'gpu-01', pool: 'a100', hostname: 'gpu-01.dc', devices: gpus(8), version: '0.2.0' });
    const agents = await listAgents(t.db);
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ id: 'gpu-01', pool: 'a100', hostname: 'gpu-01.dc', devices: gpus(8), version: '0.2.0', connected: true });
    expect(agents[0]!.lastSeen.getTime()).toBeGreaterThanOrEqual(first!.lastSeen.getTime());
  });

  it('keeps a disconnected agent, marked away, until it connects again', async () => {
    await upsertConnectedAgent(t.db, { id: 'cpu-01', pool: 'cpu', hostname: 'cpu-01', devices: [{ id: 0, type: 'cpu', brand: 'x86_64', uuid: 'cpu-0' }], version: '0.1.0' });
    const [before] = await listAgents(t.db);
    await markAgentDisconnected(t.db, 'cpu-01');
    const [away] = await listAgents(t.db);
    expect(away).toMatchObject({ id: 'cpu-01', connected: false, devices: before!.devices });
    expect(away!.lastSeen.getTime()).toBeGreaterThanOrEqual(before!.lastSeen.getTime());
    await markAgentDisconnected(t.db, 'never-seen');
    expect(await listAgents(t.db)).toHaveLength(1);

    await upsertConnectedAgent(t.db, { id: 'cpu-01', pool: 'cpu', hostname: 'cpu-01', devices: before!.devices, version: '0.1.0' });
    expect((await listAgents(t.db))[0]!.connected).toBe(true);
  });

  it('lists every agent by id, or those of one pool', async () => {
    for (const [id, pool] of [['c', 'gpu'], ['a', 'default'], ['b', 'gpu']] as const) {
      await upsertConnectedAgent(t.db, { id, pool, hostname: id, devices: gpus(1), version: '0.1.0' });
    }
    await markAgentDisconnected(t.db, 'b');
    expect((await listAgents(t.db)).map((a) => a.id)).toEqual(['a', 'b', 'c']);
    expect((await listAgents(t.db, 'gpu')).map((a) => [a.id, a.connected])).toEqual([['b', false], ['c', true]]);
    expect(await listAgents(t.db, 'empty')).toEqual([]);
  });
});

describeBoth('agents repository: outbox position', (t) => {
  it('keeps where the master stands in an agent\'s outbox (epoch and highest stored seq), per agent', async () => {
    const { getAgentOutbox, setAgentOutbox } = await import('../../master/src/db/agents');
    await upsertConnectedAgent(t.db, { id: 'gpu-01', pool: 'default', hostname: 'gpu-01', devices: gpus(1), version: '0.1.0' });
    await upsertConnectedAgent(t.db, { id: 'gpu-02', pool: 'default', hostname: 'gpu-02', devices: gpus(1), version: '0.1.0' });
    expect(await getAgentOutbox(t.db, 'gpu-01')).toBeNull();
    await setAgentOutbox(t.db, 'gpu-01', 'epoch-a', 41);
    await setAgentOutbox(t.db, 'gpu-01', 'epoch-a', 42);
    expect(await getAgentOutbox(t.db, 'gpu-01')).toEqual({ epoch: 'epoch-a', seq: 42 });
    expect(await getAgentOutbox(t.db, 'gpu-02')).toBeNull();
    // A hello again (the agent reconnects) leaves it as it was.
    await upsertConnectedAgent(t.db, { id: 'gpu-01', pool: 'default', hostname: 'gpu-01', devices: gpus(1), version: '0.1.0' });
    expect(await getAgentOutbox(t.db, 'gpu-01')).toEqual({ epoch: 'epoch-a', seq: 42 });
    expect(await getAgentOutbox(t.db, 'never-seen')).toBeNull();
  });
});
