// Bad input is refused with a clear message naming the field, the right status, and nothing stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type Master } from '../../master/src/server';
import { api, tmpDir } from '../helpers/processes';

describe('experiment submission validation', () => {
  let master: Master;
  beforeAll(async () => {
    master = await startMaster({ port: 0, dataDir: tmpDir('validation'), maxContextBytes: 64 * 1024, logLevel: 'warn' });
  }, 60_000);
  afterAll(async () => {
    await master?.close();
  });

  const base = `
name: v
entrypoint: model.ts:createTrial
hyperparameters:
  lr: {type: double, minval: 0.001, maxval: 0.1}
searcher:
  name: random
  metric: validation_loss
  max_trials: 2
  max_length: {batches: 10}
`;

  const count = async () => (await api<{ total: number }>(master.url, 'GET', '/experiments')).body.total;

  it.each([
    ['wrong type', base.replace('max_trials: 2', 'max_trials: "two"'), 'searcher.max_trials'],
    ['unknown searcher', base.replace('name: random', 'name: hyperband9000'), 'searcher.name'],
    ['negative max_trials', base.replace('max_trials: 2', 'max_trials: -3'), 'searcher.max_trials'],
    ['missing metric', base.replace('  metric: validation_loss\n', ''), 'searcher.metric'],
    ['bad hyperparameter range', base.replace('maxval: 0.1', 'maxval: 0.0001'), 'hyperparameters.lr.maxval'],
    ['not YAML', 'name: [unclosed', 'YAML'],
  ])('refuses %s with 400 naming the field', async (_what, config, field) => {
    const before = await count();
    const r = await api<{ error: { code: string; message: string } }>(master.url, 'POST', '/experiments', { config });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain(field);
    expect(await count()).toBe(before);
  });

  it('refuses an oversized context with 413 and stores nothing', async () => {
    const before = await count();
    const big = Buffer.alloc(200 * 1024, 7);
    big[0] = 0x1f;
    big[1] = 0x8b;
    const r = await api<{ error: { code: string; message: string } }>(master.url, 'POST', '/experiments', { config: base, context: big.toString('base64') });
    expect(r.status).toBe(413);
    expect(r.body.error.message).toMatch(/limit/);
    expect(await count()).toBe(before);
  });

  it('accepts a valid config and returns 201', async () => {
    const r = await api<{ id: number; state: string }>(master.url, 'POST', '/experiments', { config: base });
    expect(r.status).toBe(201);
    expect(r.body.state).toBe('ACTIVE');
  });

  it('answers unknown experiments with 404 and bad ids with 400', async () => {
    expect((await api(master.url, 'GET', '/experiments/999999')).status).toBe(404);
    expect((await api(master.url, 'GET', '/experiments/abc')).status).toBe(400);
    expect((await api(master.url, 'POST', '/experiments/999999/kill')).status).toBe(404);
  });
});
