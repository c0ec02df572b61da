// A master SIGKILLed in the middle of a job finishes it after restart, with jobs in-process and on BullMQ. The
// job is a webhook delivery whose receiver holds the first request without answering: the master dies while
// the request is in flight; its outbox row stays, and the restarted master delivers it (the receiver answers now).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { WebhookInfo } from '@hone/protocol/webhooks';
import { api, startMasterProcess, tmpDir, waitFor, type MasterProc } from '../helpers/processes';
import { dropRedisPrefix, redisAvailable, redisPrefix } from '../helpers/services';
import { jobEnv, type JobMode } from '../helpers/jobs';

const hasRedis = await redisAvailable();
const CONFIG = 'name: restart-job\nentrypoint: train.ts\nhyperparameters: {lr: 0.1}\nsearcher: {name: single, metric: loss, max_length: {batches: 10}}\n';

describe.each(['in-process', 'bullmq'] as JobMode[])('a master killed mid-job (jobs %s)', (mode) => {
  const prefix = redisPrefix('restart');
  const masters: MasterProc[] = [];
  let server: http.Server | undefined;
  afterAll(async () => {
    for (const m of masters) await m.kill('SIGKILL');
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (mode === 'bullmq' && hasRedis) await dropRedisPrefix(prefix);
  });

  it.skipIf(mode === 'bullmq' && !hasRedis)('finishes the job after a restart', async () => {
    const bodies: string[] = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        // The first delivery is held (no answer): the master is killed while it waits.
        if (bodies.length > 1) res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

    const dataDir = tmpDir('jobs-restart');
    const env = jobEnv(mode, 'restart', prefix);
    let master = await startMasterProcess({ dataDir, env });
    masters.push(master);
    const hook = await api<WebhookInfo>(master.url, 'POST', '/webhooks', { url: hookUrl, triggers: ['ACTIVE'] });
    expect(hook.status).toBe(201);
    const exp = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: CONFIG, activate: false });
    expect((await api(master.url, 'POST', `/experiments/${exp.body.id}/activate`)).status).toBe(200);
    await waitFor('the first delivery to reach the receiver', async () => bodies.length === 1, 30_000, 50);

    await master.kill('SIGKILL');
    expect(master.child.signalCode).toBe('SIGKILL');
    master = await startMasterProcess({ dataDir, env });
    masters.push(master);

    // In-process: the row is found at start-up. BullMQ: the job's lock expires and the stalled check hands it on.
    await waitFor('the delivery after the restart', async () => bodies.length >= 2, 90_000, 100);
    expect(bodies[1]).toBe(bodies[0]);
    const described = await waitFor('the attempt recorded', async () => {
      const w = await api<WebhookInfo>(master.url, 'GET', `/webhooks/${hook.body.id}`);
      return w.body.deliveries.length ? w.body : null;
    }, 30_000);
    expect(described.deliveries.map((d) => [d.statusCode, d.error, d.trigger])).toEqual([[200, null, 'ACTIVE']]);
    // Done means done: no third delivery.
    await new Promise((r) => setTimeout(r, 2000));
    expect(bodies).toHaveLength(2);
  }, 240_000);
});
