// Webhooks against a real HTTP receiver started by the test, with jobs in-process and on BullMQ: a signed JSON
// POST per matching state change (signature checked here), retried with backoff after the receiver answers 500,
// only for the webhook's triggers and experiment, attempts visible in the CLI and the API; bad URLs refused.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { WebhookEvent, WebhookInfo } from '@hone/protocol/webhooks';
import { api, runCli, signIn, startMasterProcess, tmpDir, waitFor, type MasterProc } from '../helpers/processes';
import { dropRedisPrefix, redisAvailable, redisPrefix } from '../helpers/services';
import { jobEnv, type JobMode } from '../helpers/jobs';

const hasRedis = await redisAvailable();

interface Received {
  path: string;
  signature: string | undefined;
  body: string;
  status: number;
}

/** An HTTP receiver that answers each path's requests with the statuses given for it, then 200. */
async function startReceiver(plan: Record<string, number[]>) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const status = plan[path]?.shift() ?? 200;
      received.push({ path, signature: req.headers['x-hone-signature'] as string | undefined, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status).end(status === 200 ? 'ok' : 'try later');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const CONFIG = 'name: hooked\nentrypoint: train.ts\nhyperparameters: {lr: 0.1}\nsearcher: {name: single, metric: loss, max_length: {batches: 10}}\n';

describe.each(['in-process', 'bullmq'] as JobMode[])('webhooks (jobs %s)', (mode) => {
  const prefix = redisPrefix('webhooks');
  let master: MasterProc | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  afterAll(async () => {
    await master?.kill('SIGKILL');
    await receiver?.close();
    if (mode === 'bullmq' && hasRedis) await dropRedisPrefix(prefix);
  });

  it.skipIf(mode === 'bullmq' && !hasRedis)('posts signed events for matching state changes, retries a 500, and shows the attempts', async () => {
    receiver = await startReceiver({ '/a': [500] });
    master = await startMasterProcess({ dataDir: tmpDir('webhooks'), env: jobEnv(mode, 'webhooks', prefix) });
    const m = master.url;

    // Refusals name the field.
    const bad = await api(m, 'POST', '/webhooks', { url: 'ftp://example.com/x', triggers: ['COMPLETED'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^url: must be an http:\/\/ or https:\/\/ URL/);
    const badTrigger = await api(m, 'POST', '/webhooks', { url: `${receiver.url}/a`, triggers: ['FINISHED'] });
    expect(badTrigger.status).toBe(400);
    expect(badTrigger.body.error.message).toMatch(/^triggers: unknown trigger "FINISHED"/);
    const badCli = await runCli(['-m', m, 'webhook', 'create', '--url', 'not a url', '--triggers', 'COMPLETED']);
    expect(badCli.code).not.toBe(0);
    expect(badCli.stderr).toMatch(/url: "not a url" is not a URL/);

    const exp = await api<{ id: number }>(m, 'POST', '/experiments', { config: CONFIG, activate: false });
    expect(exp.status).toBe(201);
    const other = await api<{ id: number }>(m, 'POST', '/experiments', { config: CONFIG, activate: false });
    const id = exp.body.id;

    // A: every experiment's COMPLETED and CANCELED (made with the CLI, which shows the secret once).
    const created = await runCli(['-m', m, 'webhook', 'create', '--url', `${receiver.url}/a`, '--triggers', 'completed,CANCELED']);
    expect(created.code, created.stderr).toBe(0);
    const secret = /Signing secret \(shown only this once\): (\S+)/.exec(created.stdout)?.[1];
    expect(secret).toMatch(/^whsec_/);
    const hookA = Number(/Created webhook (\d+)/.exec(created.stdout)![1]);
    // B: only ERROR; C: CANCELED of the other experiment. Neither fires below.
    const hookB = await api<WebhookInfo>(m, 'POST', '/webhooks', { url: `${receiver.url}/b`, triggers: ['ERROR'] });
    const hookC = await api<WebhookInfo>(m, 'POST', '/webhooks', { url: `${receiver.url}/c`, triggers: ['CANCELED'], experimentId: other.body.id });
    expect(hookB.status).toBe(201);
    expect(hookC.status).toBe(201);
    const listed = await api<WebhookInfo[]>(m, 'GET', '/webhooks');
    expect(listed.body.map((w) => w.id)).toEqual([hookA, hookB.body.id, hookC.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(secret!);

    // ACTIVE, STOPPING_CANCELED, CANCELED: only the last matches A.
    expect((await api(m, 'POST', `/experiments/${id}/activate`)).status).toBe(200);
    expect((await api(m, 'POST', `/experiments/${id}/kill`)).status).toBe(200);
    await waitFor('the experiment to be CANCELED', async () => (await api(m, 'GET', `/experiments/${id}`)).body.state === 'CANCELED', 30_000);

    // The receiver answers 500 first: the job retries (backoff) and the second POST gets 200.
    await waitFor('a retried delivery', async () => receiver!.received.filter((r) => r.path === '/a').length >= 2, 60_000, 100);
    const toA = receiver.received.filter((r) => r.path === '/a');
    expect(toA.map((r) => r.status)).toEqual([500, 200]);
    for (const r of toA) {
      // The signature is the HMAC-SHA256 of the raw body with the secret, and the same bytes are sent each time.
      expect(r.signature).toBe(`sha256=${crypto.createHmac('sha256', secret!).update(r.body).digest('hex')}`);
      expect(r.body).toBe(toA[0]!.body);
    }
    const event = JSON.parse(toA[0]!.body) as WebhookEvent;
    expect(event).toMatchObject({ event: 'experiment.state', trigger: 'CANCELED', experiment: { id, name: 'hooked', state: 'CANCELED' } });

    const described = await api<WebhookInfo>(m, 'GET', `/webhooks/${hookA}`);
    expect(described.body.deliveries.map((d) => [d.attempt, d.statusCode, d.error, d.trigger, d.experimentId])).toEqual([
      [2, 200, null, 'CANCELED', id],
      [1, 500, 'HTTP 500', 'CANCELED', id],
    ]);
    const cli = await runCli(['-m', m, 'webhook', 'describe', String(hookA)]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/│ 2\s+│ \d+\s+│ CANCELED │ 200\s+│/);
    expect(cli.stdout).toMatch(/│ 1\s+│ \d+\s+│ CANCELED │ 500 \(HTTP 500\)/);
    const list = await runCli(['-m', m, 'webhook', 'list']);
    expect(list.stdout).toMatch(new RegExp(`│ ${hookA}\\s+│.*│ 200 at `));

    // Nothing for B (wrong trigger) or C (another experiment), and no third POST to A.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.received.map((r) => r.path)).toEqual(['/a', '/a']);
    expect((await api<WebhookInfo>(m, 'GET', `/webhooks/${hookB.body.id}`)).body.deliveries).toEqual([]);

    const del = await runCli(['-m', m, 'webhook', 'delete', String(hookB.body.id)]);
    expect(del.code, del.stderr).toBe(0);
    expect((await api(m, 'GET', `/webhooks/${hookB.body.id}`)).status).toBe(404);

    // Who may: a user who is neither admin nor owner reads webhooks but changes none, nor deletes the experiment.
    expect((await api(m, 'POST', '/users', { username: 'bob', password: 'bob-password-123' })).status).toBe(201);
    const bob = await signIn(m, 'bob', 'bob-password-123');
    await signIn(m); // api() and runCli() go on as admin
    const asBob = { token: bob };
    expect((await api(m, 'GET', '/webhooks', undefined, asBob)).status).toBe(200);
    const global = await api(m, 'POST', '/webhooks', { url: `${receiver.url}/d`, triggers: ['COMPLETED'] }, asBob);
    expect(global.status).toBe(403);
    expect(global.body.error.message).toContain('only an admin may create a webhook for every experiment');
    expect((await api(m, 'POST', '/webhooks', { url: `${receiver.url}/d`, triggers: ['COMPLETED'], experimentId: id }, asBob)).status).toBe(403);
    expect((await api(m, 'DELETE', `/webhooks/${hookA}`, undefined, asBob)).status).toBe(403);
    const delExp = await api(m, 'DELETE', `/experiments/${id}`, undefined, asBob);
    expect(delExp.status).toBe(403);
    expect(delExp.body.error.message).toContain(`may delete experiment ${id}`);
  }, 180_000);
});
