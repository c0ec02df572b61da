// Per-agent credentials and who may speak about an allocation, against a real master (in this process) with raw
// WebSocket clients playing agents — honest ones and impostors — and the real agent daemon.
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExperimentConfig, type Device, type MasterToAgent, type StartTask } from '@hone/protocol';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import { startMaster, type Master } from '../../master/src/server';
import * as agentsDb from '../../master/src/db/agents';
import { listLiveAllocations } from '../../master/src/db/allocations';
import { tailLogs } from '../../master/src/db/logs';
import { hashAgentSecret } from '../../master/src/rm/agents/agentCredentials';
import type { AgentResourceManager } from '../../master/src/rm/agents/agentResourceManager';
import { Agent } from '../../agent/src/agent';
import { describeBoth } from '../db/both';
import { tmpDir, waitFor } from '../helpers/processes';

const TOKEN = 'cluster-agent-token';
const cpu = (n = 1): Device[] => Array.from({ length: n }, (_, id) => ({ id, type: 'cpu', brand: 'test', uuid: `cpu-${id}` }));
type LogLine = { level: number; msg: string; [k: string]: unknown };

describeBoth('agents repository: credentials', (t) => {
  const a = { id: 'gpu-01', pool: 'default', hostname: 'gpu-01', devices: cpu(2), version: '0.1.0' };

  it('issues a credential to a new agent, confirms it, and never replaces a confirmed one', async () => {
    expect(await agentsDb.getAgentCredential(t.db, 'gpu-01')).toBeNull();
    expect(await agentsDb.issueAgentCredential(t.db, { ...a, secretHash: 'h1' })).toBe(true);
    expect(await agentsDb.getAgentCredential(t.db, 'gpu-01')).toEqual({ secretHash: 'h1', confirmed: false });
    // Listed like any agent (not connected yet), without the hash.
    const [listed] = await agentsDb.listAgents(t.db);
    expect(listed).toMatchObject({ id: 'gpu-01', connected: false, devices: cpu(2) });
    expect(JSON.stringify(listed)).not.toContain('h1');
    // Never presented: may be issued again (the welcome may have been lost).
    expect(await agentsDb.issueAgentCredential(t.db, { ...a, secretHash: 'h2' })).toBe(true);
    await agentsDb.confirmAgentCredential(t.db, 'gpu-01');
    expect(await agentsDb.issueAgentCredential(t.db, { ...a, secretHash: 'h3' })).toBe(false);
    expect(await agentsDb.getAgentCredential(t.db, 'gpu-01')).toEqual({ secretHash: 'h2', confirmed: true });
    // A hello keeps the credential.
    await agentsDb.upsertConnectedAgent(t.db, a);
    expect(await agentsDb.getAgentCredential(t.db, 'gpu-01')).toEqual({ secretHash: 'h2', confirmed: true });
  });

  it('resets a credential by deleting the agent', async () => {
    await agentsDb.issueAgentCredential(t.db, { ...a, secretHash: 'h1' });
    await agentsDb.confirmAgentCredential(t.db, 'gpu-01');
    expect(await agentsDb.deleteAgent(t.db, 'gpu-01')).toBe(true);
    expect(await agentsDb.deleteAgent(t.db, 'gpu-01')).toBe(false);
    expect(await agentsDb.getAgentCredential(t.db, 'gpu-01')).toBeNull();
    expect(await agentsDb.issueAgentCredential(t.db, { ...a, secretHash: 'h9' })).toBe(true);
  });
});

/** A raw agent connection: says hello (with the options given) and records what the master sends. */
async function rawAgent(url: string, opts: { id: string; token?: string; secret?: string; pool?: string; running?: Array<{ allocationId: string; rank: number; pid: number }> }) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/agents', { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
  const messages: MasterToAgent[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d)) as MasterToAgent));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(
    JSON.stringify({
      type: 'hello',
      agentId: opts.id,
      resourcePool: opts.pool ?? 'default',
      devices: cpu(1),
      running: opts.running ?? [],
      version: 'test',
      hostname: opts.id,
      ...(opts.secret ? { agentSecret: opts.secret } : {}),
    }),
  );
  const first = <T extends MasterToAgent['type']>(type: T, timeoutMs = 5000) =>
    waitFor(`a ${type} message for ${opts.id}`, async () => messages.find((m) => m.type === type) as Extract<MasterToAgent, { type: T }> | undefined, timeoutMs, 20);
  const send = (msg: unknown) => ws.send(JSON.stringify(msg));
  return { ws, messages, closed, first, send };
}

describe('agent credentials on a master with an agent token', () => {
  let master: Master;
  const logs: LogLine[] = [];
  const dataDir = tmpDir('agent-cred');
  let port = 0;
  const start = async () => {
    master = await startMaster({
      port,
      dataDir,
      agentToken: TOKEN,
      logLevel: 'info',
      logStream: { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) },
    });
  };
  beforeAll(async () => {
    await start();
    // A restart (below) comes back on the same port, where the agent daemon looks for it.
    port = Number(new URL(master.url).port);
  }, 60_000);
  afterAll(async () => {
    await master?.close();
  });
  const connected = (id: string) => master.ctx.agents.agents.get(id);
  const refusals = (id: string) => logs.filter((l) => l.msg === 'refused an agent message; closing its connection' && l.agent === id);

  it('refuses a new agent without the cluster token, and one with a wrong token', async () => {
    const none = await rawAgent(master.url, { id: 'no-token' });
    expect(await none.closed).toEqual({ code: AGENT_CLOSE_CODES.UNAUTHENTICATED, reason: expect.stringMatching(/missing agent token/) });
    const wrong = await rawAgent(master.url, { id: 'wrong-token', token: 'guess' });
    expect(await wrong.closed).toEqual({ code: AGENT_CLOSE_CODES.UNAUTHENTICATED, reason: 'invalid agent token' });
    expect(none.messages.concat(wrong.messages)).toEqual([]);
    expect(await agentsDb.getAgentCredential(master.ctx.db, 'no-token')).toBeNull();
  });

  it('issues a new agent its own secret in welcome, and keeps only its hash', async () => {
    const a = await rawAgent(master.url, { id: 'cred-a', token: TOKEN });
    const welcome = await a.first('welcome');
    expect(welcome.agentSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await agentsDb.getAgentCredential(master.ctx.db, 'cred-a');
    expect(stored).toEqual({ secretHash: hashAgentSecret(welcome.agentSecret!), confirmed: false });
    const rows = await master.ctx.db.query('SELECT * FROM agents WHERE id = $1', ['cred-a']);
    expect(JSON.stringify(rows.rows)).not.toContain(welcome.agentSecret!);
    a.ws.close();
    await a.closed;
  });

  it('refuses a hello for a known agent id without its secret, even with the cluster token and while it is connected', async () => {
    const a = await rawAgent(master.url, { id: 'cred-b', token: TOKEN });
    const secret = (await a.first('welcome')).agentSecret!;
    const since = connected('cred-b')!.connectedAt;
    // The impostor has the cluster token, but not cred-b's secret: it neither joins nor displaces cred-b.
    const impostor = await rawAgent(master.url, { id: 'cred-b', token: TOKEN });
    expect(await impostor.closed).toEqual({ code: AGENT_CLOSE_CODES.CREDENTIAL_REFUSED, reason: expect.stringMatching(/agent cred-b is known to this master/) });
    const guesser = await rawAgent(master.url, { id: 'cred-b', token: TOKEN, secret: 'x'.repeat(43) });
    expect(await guesser.closed).toEqual({ code: AGENT_CLOSE_CODES.CREDENTIAL_REFUSED, reason: expect.stringMatching(/wrong agent secret for agent cred-b/) });
    expect(impostor.messages.concat(guesser.messages)).toEqual([]);
    expect(connected('cred-b')?.connectedAt).toBe(since);
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
    expect(refusals('cred-b').length).toBeGreaterThanOrEqual(2);

    // With the right secret (and no token at all) it replaces the stale connection.
    const again = await rawAgent(master.url, { id: 'cred-b', secret });
    const w = await again.first('welcome');
    expect(w.agentSecret).toBeUndefined();
    expect((await a.closed).code).toBe(AGENT_CLOSE_CODES.REPLACED);
    expect(await agentsDb.getAgentCredential(master.ctx.db, 'cred-b')).toMatchObject({ confirmed: true });
    again.ws.close();
    await again.closed;
    await waitFor('cred-b to be away', async () => !connected('cred-b'), 5000, 20);

    // Confirmed: the cluster token alone no longer admits the id, even while nobody holds it.
    const later = await rawAgent(master.url, { id: 'cred-b', token: TOKEN });
    expect((await later.closed).code).toBe(AGENT_CLOSE_CODES.CREDENTIAL_REFUSED);
  });

  it('issues a new secret while the last one was never presented (its welcome was lost), but never to a second live connection', async () => {
    const a = await rawAgent(master.url, { id: 'cred-c', token: TOKEN });
    const first = (await a.first('welcome')).agentSecret!;
    const live = await rawAgent(master.url, { id: 'cred-c', token: TOKEN });
    expect((await live.closed).code).toBe(AGENT_CLOSE_CODES.CREDENTIAL_REFUSED);
    a.ws.terminate();
    await waitFor('cred-c to be away', async () => !connected('cred-c'), 5000, 20);
    const b = await rawAgent(master.url, { id: 'cred-c', token: TOKEN });
    const second = (await b.first('welcome')).agentSecret!;
    expect(second).not.toBe(first);
    b.ws.close();
    await b.closed;
    const old = await rawAgent(master.url, { id: 'cred-c', secret: first });
    expect((await old.closed).code).toBe(AGENT_CLOSE_CODES.CREDENTIAL_REFUSED);
  });

  it('resets a credential when the agent is deleted: its next hello is a new agent\'s', async () => {
    const a = await rawAgent(master.url, { id: 'cred-d', token: TOKEN });
    const old = (await a.first('welcome')).agentSecret!;
    expect(await (master.ctx.rm as AgentResourceManager).forgetAgent('cred-d')).toBe(true);
    expect((await a.closed).code).toBe(AGENT_CLOSE_CODES.CREDENTIAL_REFUSED);
    const b = await rawAgent(master.url, { id: 'cred-d', token: TOKEN, secret: old });
    expect((await b.first('welcome')).agentSecret).not.toBe(old);
    b.ws.close();
    await b.closed;
  });

  it('accepts taskState and logBatch about an allocation only from the agent it is placed on, also just after it ended', async () => {
    const a = await rawAgent(master.url, { id: 'placed-a', token: TOKEN, pool: 'pool-a' });
    await a.first('welcome');
    const b = await rawAgent(master.url, { id: 'other-b', token: TOKEN, pool: 'pool-b' });
    await b.first('welcome');
    const yaml = `name: placement
entrypoint: model.ts:createTrial
searcher:
  name: single
  metric: validation_loss
  max_length:
    batches: 10
resources:
  resource_pool: pool-a
`;
    const input = { config: parseExperimentConfig(yaml), configYaml: yaml, context: null, activate: true, owner: 'admin' };
    await master.ctx.experiments.createExperiment(input);
    const start = (await a.first('startTask', 20_000)) as StartTask;
    const id = start.allocationId;
    const line = (text: string, rank = 0) => ({ rank, stream: 'stdout', ts: new Date().toISOString(), line: text });
    const isLive = async () => (await listLiveAllocations(master.ctx.db)).some((x) => x.id === id);

    // The other agent tries to kill the trial and to write into its logs.
    b.send({ type: 'taskState', allocationId: id, rank: 0, state: 'exited', exitCode: 1 });
    b.send({ type: 'logBatch', allocationId: id, trialId: start.trialId, logs: [line('injected by other-b')] });
    // The right agent with a rank it does not hold, and with the logs of another trial.
    a.send({ type: 'taskState', allocationId: id, rank: 3, state: 'exited', exitCode: 1 });
    a.send({ type: 'logBatch', allocationId: id, trialId: start.trialId + 1000, logs: [line('wrong trial')] });
    await waitFor('the warnings', async () => logs.filter((l) => l.level === 40 && String(l.msg).startsWith('ignored ')).length >= 3, 5000, 20);
    const warned = logs.filter((l) => l.level === 40 && String(l.msg).startsWith('ignored ')).map((l) => `${l.msg}`);
    expect(warned).toContain(`ignored taskState from agent other-b about allocation ${id}: the allocation is not placed on this agent`);
    expect(warned).toContain(`ignored logBatch from agent other-b about allocation ${id}: the allocation is not placed on this agent`);
    expect(warned).toContain(`ignored taskState from agent placed-a about allocation ${id}: rank 3 of the allocation is not placed on this agent`);
    expect(warned.some((w) => w.includes(`belongs to trial ${start.trialId}, not ${start.trialId + 1000}`))).toBe(true);
    expect(await isLive()).toBe(true);

    // The agent it is placed on reports, logs, exits; its last lines arrive after the allocation ended.
    a.send({ type: 'taskState', allocationId: id, rank: 0, state: 'running' });
    a.send({ type: 'logBatch', allocationId: id, trialId: start.trialId, logs: [line('hello from placed-a')] });
    a.send({ type: 'taskState', allocationId: id, rank: 0, state: 'exited', exitCode: 0 });
    await waitFor('the allocation to end', async () => !(await isLive()), 10_000, 50);
    a.send({ type: 'logBatch', allocationId: id, trialId: start.trialId, logs: [line('late line from placed-a')] });
    b.send({ type: 'logBatch', allocationId: id, trialId: start.trialId, logs: [line('late injection by other-b')] });
    await waitFor('the late line', async () => (await tailLogs(master.ctx.db, start.trialId, 100)).some((l) => l.line === 'late line from placed-a'), 5000, 50);
    await new Promise((r) => setTimeout(r, 300));
    const lines = (await tailLogs(master.ctx.db, start.trialId, 100)).map((l) => `${l.agentId}: ${l.line}`);
    expect(lines).toEqual(['placed-a: hello from placed-a', 'placed-a: late line from placed-a']);
    a.ws.close();
    b.ws.close();
  }, 60_000);

  it('the agent daemon stores its credential (0600), presents it after a restart and after a master restart, and keeps retrying when refused', async () => {
    const workDir = path.join(tmpDir('agent-cred-daemon'), 'work');
    const make = (opts: { token?: string; dir?: string } = {}) =>
      new Agent({ masterUrl: master.url, agentId: 'daemon-1', resourcePool: 'daemons', devices: cpu(1), workDir: opts.dir ?? workDir, prewarm: false, logLevel: 'silent', ...(opts.token ? { token: opts.token } : {}) });
    let agent = make({ token: TOKEN });
    agent.start();
    await waitFor('the agent to join', async () => connected('daemon-1') && agent.connected, 10_000, 20);
    const file = path.join(workDir, 'credential.json');
    await waitFor('the credential file', async () => fs.existsSync(file), 5000, 20);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { masters: Record<string, { agentId: string; secret: string }> };
    const entry = Object.values(saved.masters)[0]!;
    expect(entry.agentId).toBe('daemon-1');
    expect((await agentsDb.getAgentCredential(master.ctx.db, 'daemon-1'))?.secretHash).toBe(hashAgentSecret(entry.secret));
    await agent.stop();

    // Restarted without the cluster token: its credential admits it.
    agent = make();
    agent.start();
    await waitFor('the agent to come back', async () => connected('daemon-1') && agent.connected, 10_000, 20);
    expect(await agentsDb.getAgentCredential(master.ctx.db, 'daemon-1')).toMatchObject({ confirmed: true });

    // The master restarts (same database): the agent reconnects with its credential.
    await master.close();
    await start();
    await waitFor('the agent to reconnect to the restarted master', async () => connected('daemon-1') && agent.connected, 30_000, 50);

    // A second machine claiming the same id (another work directory, the cluster token) is refused, and retries.
    const before = refusals('daemon-1').length;
    const twin = make({ token: TOKEN, dir: path.join(tmpDir('agent-cred-twin'), 'work') });
    twin.start();
    await waitFor('four refusals of the twin', async () => refusals('daemon-1').length >= before + 4, 20_000, 50);
    expect(twin.lastRefusal?.code).toBe(AGENT_CLOSE_CODES.CREDENTIAL_REFUSED);
    expect(twin.connected).toBe(false);
    // It backs off: each wait about twice the last (with jitter), not a retry loop.
    const times = refusals('daemon-1').slice(before, before + 4).map((l) => l.time as number);
    expect(times[3]! - times[2]!).toBeGreaterThan(times[1]! - times[0]!);
    expect(connected('daemon-1')).toBeDefined();
    expect(agent.connected).toBe(true);
    await twin.stop();
    await agent.stop();
  }, 90_000);
});
