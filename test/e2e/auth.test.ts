// A master that is safe on a network: every route but sign-in and master info needs a user session; users,
// access tokens, permissions, the audit log, task tokens kept to their own allocation, bounded uploads, TLS.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateTokenResult, CreateUserResult, ExperimentDetail, ExperimentSummary, LoginResult, Page } from '@hone/protocol';
import { startMaster, type Master } from '../../master/src/server';
import { api, signIn, TEST_ADMIN_PASSWORD, tmpDir } from '../helpers/processes';

const config = `
name: mine
entrypoint: model.ts:createTrial
hyperparameters: {lr: 0.1}
searcher: {name: single, metric: loss, max_length: 10}
`;

describe('authentication and permissions', () => {
  let master: Master;
  let url: string;
  const login = (username: string, password: string) => api<LoginResult>(url, 'POST', '/auth/login', { username, password }, { token: null });

  beforeAll(async () => {
    master = await startMaster({ port: 0, dataDir: tmpDir('auth'), logLevel: 'warn', adminPassword: TEST_ADMIN_PASSWORD });
    url = master.url;
    await signIn(url);
  }, 60_000);
  afterAll(async () => {
    await master?.close();
  });

  it('refuses anonymous requests to every route but sign-in and master info, with 401 UNAUTHENTICATED', async () => {
    const info = await api<{ authRequired: boolean }>(url, 'GET', '/master', undefined, { token: null });
    expect(info.status).toBe(200);
    expect(info.body.authRequired).toBe(true);
    for (const [method, p, body] of [
      ['POST', '/experiments', { config }],
      ['GET', '/experiments', undefined],
      ['GET', '/experiments/1', undefined],
      ['POST', '/experiments/1/kill', undefined],
      ['PATCH', '/experiments/1', { priority: 1 }],
      ['GET', '/agents', undefined],
      ['GET', '/openapi.json', undefined],
      ['GET', '/checkpoints/00000000-0000-4000-8000-000000000000/download', undefined],
      ['GET', '/users', undefined],
    ] as const) {
      const r = await api<{ error: { code: string } }>(url, method, p, body, { token: null });
      expect([method, p, r.status, r.body.error.code]).toEqual([method, p, 401, 'UNAUTHENTICATED']);
    }
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(401);
    const bogus = await api(url, 'GET', '/experiments', undefined, { token: 'hone_not-a-real-token' });
    expect(bogus.status).toBe(401);
  });

  it('refuses the live stream without a session and accepts it with one', async () => {
    const ws = (q: string) =>
      new Promise<number>((resolve) => {
        const s = new WebSocket(`${url.replace('http', 'ws')}/api/v1/stream${q}`);
        s.on('open', () => (s.close(), resolve(101)));
        s.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        s.on('error', () => undefined);
      });
    expect(await ws('')).toBe(401);
    expect(await ws(`?token=${(await login('admin', TEST_ADMIN_PASSWORD)).body.token}`)).toBe(101);
    // A stream outlives nothing: signing out closes the streams that session opened.
    const session = (await login('admin', TEST_ADMIN_PASSWORD)).body.token;
    const open = new WebSocket(`${url.replace('http', 'ws')}/api/v1/stream?token=${session}`);
    await new Promise((r) => open.once('open', r));
    const closed = new Promise<number>((r) => open.once('close', (code) => r(code)));
    await api(url, 'POST', '/auth/logout', undefined, { token: session });
    expect(await closed).toBe(4401);
  });

  it('signs users in and out; a wrong password says so without telling which part was wrong', async () => {
    const bad = await login('admin', 'wrong-password');
    expect(bad.status).toBe(401);
    expect((bad.body as any).error.message).toBe('wrong user name or password');
    expect((await login('nobody-here', 'wrong-password')).status).toBe(401);
    const ok = await login('admin', TEST_ADMIN_PASSWORD);
    expect(ok.status).toBe(200);
    expect(ok.body.token).toMatch(/^hone_/);
    expect(new Date(ok.body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 86400_000);
    const me = await api<{ username: string; admin: boolean }>(url, 'GET', '/auth/me', undefined, { token: ok.body.token });
    expect(me.body).toMatchObject({ username: 'admin', admin: true });
    expect((await api(url, 'POST', '/auth/logout', undefined, { token: ok.body.token })).status).toBe(204);
    expect((await api(url, 'GET', '/auth/me', undefined, { token: ok.body.token })).status).toBe(401);
  });

  it('throttles sign-in attempts per user and address with 429 and a retry hint', async () => {
    await api(url, 'POST', '/users', { username: 'target', password: 'target-password' });
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await login('target', `guess-${i}`)).status);
    expect(codes.slice(0, 10).every((c) => c === 401)).toBe(true);
    const last = await login('target', 'target-password');
    expect(last.status).toBe(429);
    expect((last.body as any).error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('try again in') });
    // Another user from the same address is not locked out.
    expect((await login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  });

  it('lets admins manage users; others get 403 naming what is missing; deactivation signs a user out', async () => {
    const created = await api<CreateUserResult>(url, 'POST', '/users', { username: 'alice' });
    expect(created.status).toBe(201);
    expect(created.body.password).toMatch(/^[A-Za-z0-9]{20}$/);
    const alice = (await login('alice', created.body.password!)).body.token;
    const refused = await api<{ error: { code: string; message: string } }>(url, 'POST', '/users', { username: 'mallory' }, { token: alice });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe('only an admin may create users (you are signed in as alice)');
    expect((await api(url, 'POST', '/users', { username: 'alice' })).status).toBe(409);
    expect((await api(url, 'POST', '/users', { username: '../etc' })).status).toBe(400);
    await api(url, 'POST', '/users', { username: 'carol', password: 'carol-password' });
    const carol = (await login('carol', 'carol-password')).body.token;
    expect((await api(url, 'PATCH', '/users/carol', { active: false })).status).toBe(200);
    expect((await api(url, 'GET', '/experiments', undefined, { token: carol })).status).toBe(401);
    expect((await login('carol', 'carol-password')).status).toBe(401);
  });

  it('records owners; only the owner or an admin changes an experiment; the audit says who did what', async () => {
    await api(url, 'POST', '/users', { username: 'bob', password: 'bob-password' });
    await api(url, 'POST', '/users', { username: 'dave', password: 'dave-password' });
    const bob = (await login('bob', 'bob-password')).body.token;
    const dave = (await login('dave', 'dave-password')).body.token;
    const exp = await api<ExperimentSummary>(url, 'POST', '/experiments', { config, activate: false }, { token: bob });
    expect(exp.status).toBe(201);
    expect(exp.body.user).toBe('bob');
    const id = exp.body.id;
    // Anyone signed in reads; a stranger may not change it.
    expect((await api(url, 'GET', `/experiments/${id}`, undefined, { token: dave })).status).toBe(200);
    const denied = await api<{ error: { message: string } }>(url, 'POST', `/experiments/${id}/kill`, undefined, { token: dave });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toBe(`only its owner (bob) or an admin may kill experiment ${id} (you are signed in as dave)`);
    expect((await api(url, 'PATCH', `/experiments/${id}`, { priority: 1 }, { token: dave })).status).toBe(403);
    expect((await api(url, 'PATCH', `/experiments/${id}`, { priority: 7 }, { token: bob })).status).toBe(200);
    expect((await api(url, 'POST', `/experiments/${id}/activate`, undefined, { token: bob })).status).toBe(200);
    expect((await api(url, 'POST', `/experiments/${id}/kill`)).status).toBe(200);
    const detail = (await api<ExperimentDetail>(url, 'GET', `/experiments/${id}`)).body;
    expect(detail.audit!.map((a) => [a.username, a.action])).toEqual([
      ['bob', 'create'],
      ['bob', 'set priority'],
      ['bob', 'activate'],
      ['admin', 'kill'],
    ]);
    expect(detail.audit![1]!.details).toEqual({ from: 42, to: 7 });
    const mine = await api<Page<ExperimentSummary>>(url, 'GET', '/experiments?user=bob');
    expect(mine.body.items.map((e) => e.id)).toEqual([id]);
  });

  it('makes access tokens for automation that can expire and be revoked', async () => {
    const t = await api<CreateTokenResult>(url, 'POST', '/tokens', { description: 'ci', expiresInSeconds: 3600 });
    expect(t.status).toBe(201);
    expect(t.body.token).toMatch(/^hone_/);
    expect(new Date(t.body.expiresAt!).getTime()).toBeGreaterThan(Date.now());
    expect((await api(url, 'GET', '/experiments', undefined, { token: t.body.token })).status).toBe(200);
    const listed = await api<Array<{ id: number; description: string; revoked: boolean }>>(url, 'GET', '/tokens');
    expect(listed.body.find((x) => x.id === t.body.id)).toMatchObject({ description: 'ci', revoked: false });
    expect(JSON.stringify(listed.body)).not.toContain(t.body.token);
    expect((await api(url, 'DELETE', `/tokens/${t.body.id}`)).status).toBe(204);
    expect((await api(url, 'GET', '/experiments', undefined, { token: t.body.token })).status).toBe(401);
  });

  it('keeps task tokens off user routes, and on their own trial only while their allocation lives', async () => {
    const created = await api<{ id: number }>(url, 'POST', '/experiments', { config });
    master.ctx.rm.requestPass();
    let alloc: { id: string; trial_id: number; token: string } | undefined;
    for (let i = 0; i < 100 && !alloc; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alloc = (await master.ctx.db.query<{ id: string; trial_id: number; token: string }>('SELECT id, trial_id, token FROM allocations WHERE experiment_id = $1', [created.body.id])).rows[0];
    }
    const task = { token: alloc!.token };
    const userRoute = await api<{ error: { message: string } }>(url, 'GET', '/experiments', undefined, task);
    expect(userRoute.status).toBe(401);
    expect(userRoute.body.error.message).toContain('a task token cannot be used here');
    expect((await api(url, 'POST', `/experiments/${created.body.id}/kill`, undefined, task)).status).toBe(401);
    expect((await api(url, 'POST', '/experiments', { config }, task)).status).toBe(401);
    expect((await api(url, 'POST', `/trials/${alloc!.trial_id + 1000}/logs`, { lines: [{ line: 'x' }] }, task)).status).toBe(403);
    expect((await api(url, 'POST', `/trials/${alloc!.trial_id}/logs`, { lines: [{ line: 'hello' }] }, task)).status).toBe(200);
    expect((await api(url, 'POST', `/trials/${alloc!.trial_id}/logs`, { lines: [{ line: 'anonymous' }] }, { token: null })).status).toBe(401);
    const tooFar = await api(url, 'POST', `/trials/${alloc!.trial_id}/metrics`, { group: 'training', points: [{ stepsCompleted: 1e30, metrics: { loss: 1 } }] }, task);
    expect(tooFar.status).toBe(400);
  });

  it('stores checkpoint files streamed, owned by the trial that wrote them, and refuses bad names', async () => {
    const ids = await master.ctx.db.query<{ id: string; trial_id: number; token: string }>(`SELECT id, trial_id, token FROM allocations WHERE state <> 'TERMINATED' ORDER BY seq LIMIT 1`);
    const a = ids.rows[0]!;
    const uuid = '11111111-2222-4333-8444-555555555555';
    const put = (rel: string, token: string | null, body: Buffer = Buffer.from('weights')) =>
      fetch(`${url}/api/v1/checkpoints/${uuid}/files/${rel}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: new Uint8Array(body),
      });
    expect((await put('model.json', null)).status).toBe(401);
    expect((await put('model.json', a.token)).status).toBe(200);
    expect(fs.readFileSync(path.join(master.ctx.checkpointDir, uuid, 'model.json'), 'utf8')).toBe('weights');
    // Another trial's live task cannot write into it.
    const other = await api<{ id: number }>(url, 'POST', '/experiments', { config: config.replace('name: mine', 'name: other') });
    master.ctx.rm.requestPass();
    let b: { token: string } | undefined;
    for (let i = 0; i < 100 && !b; i++) {
      await new Promise((r) => setTimeout(r, 100));
      b = (await master.ctx.db.query<{ token: string }>('SELECT token FROM allocations WHERE experiment_id = $1', [other.body.id])).rows[0];
    }
    expect((await put('model.json', b!.token)).status).toBe(403);
    for (const bad of ['', 'dir/', '..%2Fescape', '.hone-trial']) expect([bad, (await put(bad, a.token)).status]).toEqual([bad, 400]);
  });
});

describe('TLS', () => {
  let master: Master;
  const dir = tmpDir('tls');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    master = await startMaster({ port: 0, dataDir: dir, logLevel: 'warn', adminPassword: TEST_ADMIN_PASSWORD, tlsCert: cert, tlsKey: key });
  }, 60_000);
  afterAll(async () => {
    await master?.close();
  });

  it('serves HTTPS only, with the certificate it was given, and security headers', async () => {
    expect(master.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const https = await import('node:https');
    const get = (ca?: Buffer) =>
      new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
        https.get(`${master.url}/api/v1/master`, { ...(ca ? { ca } : {}) }, (res) => (res.resume(), resolve({ status: res.statusCode!, headers: res.headers }))).on('error', reject);
      });
    await expect(get()).rejects.toThrow(/self-signed|self signed/);
    const ok = await get(fs.readFileSync(cert));
    expect(ok.status).toBe(200);
    expect(ok.headers['strict-transport-security']).toBeDefined();
    expect(String(ok.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    await expect(fetch(master.url.replace('https', 'http') + '/api/v1/master')).rejects.toThrow();
  });
});
