import { describe, expect, it, afterEach } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { HoneError } from '@hone/protocol/errors';
import { HttpMasterClient } from './masterClient';
import { MemoryMaster } from './memoryMaster';
import { serveMemoryMaster, type FakeMasterServer } from './httpFake';

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

  it("waits as long as a 503's Retry-After asks before trying again", async () => {
    const at: number[] = [];
    const http = await import('node:http');
    const s = http.createServer((_req, res) => {
      at.push(Date.now());
      if (at.length === 1) res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":{"code":"UNAVAILABLE","message":"database down"}}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"trialId":1}');
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const client = new HttpMasterClient({ baseUrl: `http://127.0.0.1:${(s.address() as { port: number }).port}`, token: 't', log: () => {} });
      expect(await client.getAllocationInfo('a')).toEqual({ trialId: 1 });
      // Without the header the first retry comes after 250 ms; the master asked for a second.
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
    } finally {
      await new Promise<void>((r) => s.close(() => r()));
    }
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
