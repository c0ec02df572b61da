import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, retryDelayMs } from './client';

describe('the CLI client and a master that is briefly unavailable', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  /** A master answering 503 (Retry-After: 0) `failures` times, then 200; counts requests by method. */
  async function flakyMaster(failures: number) {
    const seen: string[] = [];
    server = http.createServer((req, res) => {
      seen.push(req.method!);
      if (seen.length <= failures) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' }).end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the database is unavailable' } }));
      } else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it('retries a GET answered 503 until it succeeds', async () => {
    const m = await flakyMaster(2);
    expect(await new Client(m.url).get('/x')).toEqual({ ok: true });
    expect(m.seen).toEqual(['GET', 'GET', 'GET']);
  });

  it('gives up on a GET after a few tries, with the master\'s error', async () => {
    const m = await flakyMaster(100);
    await expect(new Client(m.url).get('/x')).rejects.toMatchObject({ code: 'UNAVAILABLE', status: 503, message: 'the database is unavailable' });
    expect(m.seen).toHaveLength(5);
  });

  it('never repeats a POST (it may not be idempotent)', async () => {
    const m = await flakyMaster(1);
    await expect(new Client(m.url).post('/x', {})).rejects.toMatchObject({ status: 503 });
    expect(m.seen).toEqual(['POST']);
  });

  it("waits what Retry-After says, within reason, else backs off", () => {
    expect(retryDelayMs('3', 1)).toBe(3000);
    expect(retryDelayMs('3600', 1)).toBe(10_000);
    expect(retryDelayMs(undefined, 1)).toBe(500);
    expect(retryDelayMs(undefined, 3)).toBe(2000);
  });
});
