import { describe, expect, it, afterEach } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { HoneError } from '@hone/protocol/errors';
import { HttpMasterClient } from './masterClient';
import { MemoryMaster } from './memoryMaster';
import { serveMemoryMaster, type FakeMasterServer } from './httpFake';
import { masterExchange } from './rendezvous';

const config = parseExperimentConfig({ entrypoint: 'model.ts:createTrial', searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 10 } } });
let server: FakeMasterServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('HttpMasterClient', () => {
  it('sends the bearer token and retries while the master restarts', async () => {
    const master = new MemoryMaster({ config, ops: [10] });
    server = await serveMemoryMaster(master, 'tok');
    server.failNext(3);
    const client = new HttpMasterClient({ baseUrl: server.url + '/', token: 'tok', log: () => {} });
    const info = await client.getAllocationInfo('alloc-0');
    expect(info.trialId).toBe(1);
    expect(server.requests.filter((r) => r === 'GET /allocations/alloc-0/info').length).toBe(4);
    expect(await client.getSearcherOperation(1, 0)).toEqual({ op: { length: 10 }, closed: false });
  });

  it('surfaces the master error code and message without retrying', async () => {
    const master = new MemoryMaster({ config });
    server = await serveMemoryMaster(master, 'tok');
    const client = new HttpMasterClient({ baseUrl: server.url, token: 'wrong', log: () => {} });
    const err = await client.getAllocationInfo('alloc-0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoneError);
    expect((err as HoneError).status).toBe(401);
    expect((err as HoneError).code).toBe('UNAUTHENTICATED');
    expect((err as Error).message).toContain('bad token');
    expect(server.requests.length).toBe(1);
  });

  it('gives up on an unreachable master after the retry window', async () => {
    const client = new HttpMasterClient({ baseUrl: 'http://127.0.0.1:1', token: 't', retryForMs: 600, log: () => {} });
    await expect(client.getAllocationInfo('a')).rejects.toThrow(/master unreachable/);
  });

  it('uploads and downloads checkpoint files byte for byte', async () => {
    const master = new MemoryMaster({ config });
    server = await serveMemoryMaster(master);
    const client = new HttpMasterClient({ baseUrl: server.url, token: 'test-token', log: () => {} });
    const data = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
    await client.uploadCheckpointFile('u-1', 'dir/a b.bin', data);
    expect(Array.from(await client.downloadCheckpointFile('u-1', 'dir/a b.bin'))).toEqual(Array.from(data));
  });
});

describe('masterExchange', () => {
  it('posts this rank and resolves once every rank has posted, polling through "incomplete" answers', async () => {
    const master = new MemoryMaster({ config, worldSize: 2 });
    server = await serveMemoryMaster(master);
    const client = new HttpMasterClient({ baseUrl: server.url, token: 'test-token', log: () => {} });
    const a = masterExchange(client, 'alloc-0', 0, { waitS: 0 })('10.0.0.1:5000');
    await new Promise((r) => setTimeout(r, 700));
    const b = masterExchange(client, 'alloc-0', 1, { waitS: 0 })('10.0.0.2:5001');
    expect(await Promise.all([a, b])).toEqual([
      ['10.0.0.1:5000', '10.0.0.2:5001'],
      ['10.0.0.1:5000', '10.0.0.2:5001'],
    ]);
  });

  it('times out when a rank never posts', async () => {
    const master = new MemoryMaster({ config, worldSize: 2 });
    const ex = masterExchange(master, 'alloc-0', 0, { waitS: 0, timeoutMs: 300 });
    await expect(ex('h:1')).rejects.toThrow(/rendezvous/);
  });
});
