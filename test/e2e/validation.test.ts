// Bad input is refused with a clear message naming the field, the right status, and nothing stored.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminateAllocation } from '../../master/src/db/allocations';
import { startMaster, type Master } from '../../master/src/server';
import { archive } from '../helpers/archive';
import { api, signIn, TEST_ADMIN_PASSWORD, tmpDir } from '../helpers/processes';

describe('experiment submission validation', () => {
  let master: Master;
  beforeAll(async () => {
    master = await startMaster({
      port: 0,
      dataDir: tmpDir('validation'),
      maxContextBytes: 64 * 1024,
      maxContextExpandedBytes: 1024 * 1024,
      maxContextEntries: 50,
      logLevel: 'warn',
      adminPassword: TEST_ADMIN_PASSWORD,
    });
    await signIn(master.url);
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

  it('refuses at submit time a gang that can never fit in its pool', async () => {
    // An agent with 2 slots joins pool "small".
    const ws = new WebSocket(master.url.replace('http', 'ws') + '/agents');
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', agentId: 'fake-2', resourcePool: 'small', hostname: 'h', version: 't', running: [], devices: [0, 1].map((id) => ({ id, type: 'gpu', brand: 'X', uuid: `g${id}` })) }));
    await new Promise((r) => setTimeout(r, 300));
    const before = await count();
    const cfg = base + 'resources:\n  resource_pool: small\n  slots_per_trial: 3\n';
    const r = await api<{ error: { message: string } }>(master.url, 'POST', '/experiments', { config: cfg });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toContain('resources.slots_per_trial');
    // ... and says how to get there.
    expect(r.body.error.message).toContain('npm start -- --slots 3');
    expect(await count()).toBe(before);
    const ok = await api(master.url, 'POST', '/experiments', { config: base + 'resources:\n  resource_pool: small\n  slots_per_trial: 2\n' });
    expect(ok.status).toBe(201);
    ws.close();
  });

  it('refuses a grid of 10^12 points before storing anything, naming the hyperparameters and the product', async () => {
    const before = await count();
    const rss = process.memoryUsage().rss;
    const grid = base
      .replace('name: random', 'name: grid')
      .replace('lr: {type: double, minval: 0.001, maxval: 0.1}', 'lr: {type: double, minval: 0.001, maxval: 0.1, count: 1000000}\n  wd: {type: double, minval: 0, maxval: 1, count: 1000000}');
    const r = await api<{ error: { code: string; message: string } }>(master.url, 'POST', '/experiments', { config: grid });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('INVALID_CONFIG');
    expect(r.body.error.message).toContain('lr (1000000) × wd (1000000) has 1,000,000,000,000 points, more than the limit of 10,000');
    expect(await count()).toBe(before);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 * 1024);
  });

  it('refuses an entrypoint that is not in the uploaded model directory, and an empty directory, naming what is there', async () => {
    const before = await count();
    const missing = await api<{ error: { code: string; message: string } }>(master.url, 'POST', '/experiments', {
      config: base.replace('model.ts:createTrial', 'train.ts'),
      context: (await archive({ 'model.ts': 'export const createTrial = 1;', 'README.md': '#' })).toString('base64'),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toBe('entrypoint "train.ts": train.ts is not in the uploaded model directory (it has model.ts)');
    const empty = await api<{ error: { message: string } }>(master.url, 'POST', '/experiments', { config: base, context: (await archive({})).toString('base64') });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toContain('the model directory is empty');
    expect(await count()).toBe(before);
    const ok = await api(master.url, 'POST', '/experiments', {
      config: base.replace('model.ts:createTrial', 'model:createTrial'),
      context: (await archive({ 'model.ts': 'export const createTrial = 1;' })).toString('base64'),
    });
    expect(ok.status).toBe(201);
  });

  it('refuses a decompression bomb at upload: too many entries, or too many bytes once expanded', async () => {
    const before = await count();
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}.txt`, 'x']));
    const files = await api<{ error: { code: string; message: string } }>(master.url, 'POST', '/experiments', {
      config: base,
      context: (await archive({ 'model.ts': 'x', ...many })).toString('base64'),
    });
    expect(files.status).toBe(413);
    expect(files.body.error).toMatchObject({ code: 'CONTEXT_TOO_LARGE', message: expect.stringContaining('more than 50 entries') });
    const zeros = await archive({ 'model.ts': 'x', 'data.bin': '\0'.repeat(5 * 1024 * 1024) });
    expect(zeros.length).toBeLessThan(64 * 1024);
    const bytes = await api<{ error: { code: string; message: string } }>(master.url, 'POST', '/experiments', { config: base, context: zeros.toString('base64') });
    expect(bytes.status).toBe(413);
    expect(bytes.body.error.message).toContain('expands to more than 1 MiB');
    expect(await count()).toBe(before);
  });

  it('refuses a Python entrypoint, saying that Hone runs TensorFlow.js models', async () => {
    const r = await api<{ error: { message: string } }>(master.url, 'POST', '/experiments', { config: base.replace('model.ts:createTrial', 'python3 train.py') });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('Hone runs TensorFlow.js models written in JavaScript or TypeScript');
  });

  it('changes priority, weight and max_slots of an experiment, refusing bad values', async () => {
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: base });
    const id = created.body.id;
    const r = await api<{ priority: number; weight: number; maxSlots: number }>(master.url, 'PATCH', `/experiments/${id}`, { priority: 10, weight: 2.5, max_slots: 4 });
    expect(r.status).toBe(200);
    expect([r.body.priority, r.body.weight, r.body.maxSlots]).toEqual([10, 2.5, 4]);
    const bad = await api<{ error: { message: string } }>(master.url, 'PATCH', `/experiments/${id}`, { priority: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('priority');
    const after = await api<{ priority: number }>(master.url, 'GET', `/experiments/${id}`);
    expect(after.body.priority).toBe(10);
  });

  it('refuses writes from a task whose allocation has ended (e.g. left running by a vanished agent)', async () => {
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: base });
    master.ctx.rm.requestPass();
    let alloc: { id: string; trial_id: number; token: string } | undefined;
    for (let i = 0; i < 100 && !alloc; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alloc = (await master.ctx.db.query<{ id: string; trial_id: number; token: string }>('SELECT id, trial_id, token FROM allocations WHERE experiment_id = $1', [created.body.id])).rows[0];
    }
    expect(alloc).toBeDefined();
    const post = (body: unknown) =>
      fetch(`${master.url}/api/v1/trials/${alloc!.trial_id}/metrics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${alloc!.token}` },
        body: JSON.stringify(body),
      });
    const points = { group: 'training', points: [{ stepsCompleted: 1, metrics: { loss: 1 } }] };
    expect((await post(points)).status).toBe(200);
    await terminateAllocation(master.ctx.db, alloc!.id, { exitCode: null, reason: 'lost', failed: true, lastError: null });
    // What the resource manager announces when it ends an allocation.
    master.ctx.bus.publish({ type: 'allocation', allocationId: alloc!.id });
    const refused = await post(points);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('has ended');
    const stored = await master.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM metrics WHERE trial_id = $1', [alloc!.trial_id]);
    expect(stored.rows[0]!.n).toBe(1);
  });

  it('answers unknown experiments with 404 and bad ids with 400', async () => {
    expect((await api(master.url, 'GET', '/experiments/999999')).status).toBe(404);
    expect((await api(master.url, 'GET', '/experiments/abc')).status).toBe(400);
    expect((await api(master.url, 'POST', '/experiments/999999/kill')).status).toBe(404);
  });
});
