// Runs inside the client's network namespace of the multi-host test: signs in to the master over TLS, submits the
// 2-slot experiment, waits for it, and prints one JSON line of what it saw. Trusts the test CA through
// NODE_EXTRA_CA_CERTS (set by the test).
import fs from 'node:fs';
import path from 'node:path';

const [url, password, root] = process.argv.slice(2) as [string, string, string];

async function call(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/api/v1${p}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

async function packed(dir: string): Promise<string> {
  const tar = await import('tar');
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    tar.c({ gzip: true, cwd: dir, portable: true }, ['model.ts']).on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve()).on('error', reject);
  });
  return Buffer.concat(chunks).toString('base64');
}

const anonymous = await call('GET', '/experiments');
const token = (await call('POST', '/auth/login', { username: 'admin', password })).body.token as string;
const agents = (await call('GET', '/agents', undefined, token)).body as Array<{ id: string; state: string; hostname: string }>;
const config = fs.readFileSync(path.join(root, 'examples/synthetic/distributed.yaml'), 'utf8');
const created = await call('POST', '/experiments', { config, context: await packed(path.join(root, 'examples/synthetic')) }, token);
let detail: any;
const deadline = Date.now() + 240_000;
while (Date.now() < deadline) {
  detail = (await call('GET', `/experiments/${created.body.id}`, undefined, token)).body;
  if (['COMPLETED', 'CANCELED', 'ERROR'].includes(detail.state)) break;
  await new Promise((r) => setTimeout(r, 500));
}
const trial = detail.trials[0];
const runs = (await call('GET', `/trials/${trial.id}`, undefined, token)).body.allocations;
const logs = (await call('GET', `/trials/${trial.id}/logs?limit=5000`, undefined, token)).body as Array<{ rank: number; line: string; agentId: string }>;
console.log(JSON.stringify({ anonymous: anonymous.status, agents, created: created.status, state: detail.state, trial, runs, ringLines: logs.filter((l) => /ring|rendezvous|peer/i.test(l.line)).slice(0, 20) }));
