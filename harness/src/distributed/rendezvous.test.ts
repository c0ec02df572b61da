import { describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { serveMemoryMaster } from '../core/httpFake';
import { HttpMasterClient } from '../core/masterClient';
import { MemoryMaster } from '../core/memoryMaster';
import { masterExchange } from './rendezvous';

const config = parseExperimentConfig({ entrypoint: 'model.ts:createTrial', searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 10 } } });

describe('masterExchange', () => {
  it('posts this rank and resolves once every rank has posted, polling through "incomplete" answers', async () => {
    const master = new MemoryMaster({ config, worldSize: 2 });
    const server = await serveMemoryMaster(master);
    try {
      const client = new HttpMasterClient({ baseUrl: server.url, token: 'test-token', log: () => {} });
      const a = masterExchange(client, 'alloc-0', 0, { waitS: 0 })('10.0.0.1:5000');
      await new Promise((r) => setTimeout(r, 700));
      const b = masterExchange(client, 'alloc-0', 1, { waitS: 0 })('10.0.0.2:5001');
      expect(await Promise.all([a, b])).toEqual([
        ['10.0.0.1:5000', '10.0.0.2:5001'],
        ['10.0.0.1:5000', '10.0.0.2:5001'],
      ]);
    } finally {
      await server.close();
    }
  });

  it('times out when a rank never posts', async () => {
    const master = new MemoryMaster({ config, worldSize: 2 });
    const ex = masterExchange(master, 'alloc-0', 0, { waitS: 0, timeoutMs: 300 });
    await expect(ex('h:1')).rejects.toThrow(/rendezvous/);
  });
});
