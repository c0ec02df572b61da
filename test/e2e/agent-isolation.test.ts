// What a trial's code can see and do, seen from inside a real harness the agent started (also the pre-warmed
// one): an explicit environment without the agent's secrets, an unprivileged user when the agent is root (CI
// runs as root, so that is the path tested), a task directory of its own; over https, a master certificate
// verified by the agent and the harness alike, with a private CA given by --ca; model archives bounded.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExperimentConfig, type AllocationInfo, type Device, type StartTask } from '@hone/protocol';
import { Agent } from '../../agent/src/agent';
import { archive } from '../helpers/archive';
import { tmpDir, waitFor } from '../helpers/processes';
import { privateCa } from '../helpers/tls';
import { startFakeMaster, type FakeMaster } from './agent-fake-master';

const TASK_TOKEN = 'task-token-of-alloc';
const root = process.getuid?.() === 0;
const cpu: Device[] = [{ id: 0, type: 'cpu', brand: 'test', uuid: 'cpu-0' }];

// A core API entrypoint that reports what the trial sees, as one log line.
const PROBE = `import fs from 'node:fs';
import os from 'node:os';
const tryRead = (f) => { try { fs.readFileSync(f); return 'readable'; } catch (e) { return e.code; } };
export default async function probe() {
  const st = fs.statSync('probe.mjs');
  console.log('PROBE ' + JSON.stringify({
    uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), cwd: process.cwd(), home: os.homedir(),
    env: process.env, owner: st.uid, credential: tryRead(process.env.PROBE_CREDENTIAL), agentEnviron: tryRead('/proc/' + process.env.PROBE_AGENT_PID + '/environ'),
    writable: (() => { try { fs.writeFileSync('out.txt', 'x'); return true; } catch (e) { return e.code; } })(),
  }));
}
`;
const YAML = 'name: probe\nentrypoint: probe.mjs\nsearcher:\n  name: single\n  metric: validation_loss\n  max_length:\n    batches: 1\n';

interface Probe {
  uid: number;
  gid: number;
  groups: number[];
  cwd: string;
  home: string;
  env: Record<string, string>;
  owner: number;
  credential: string;
  agentEnviron: string;
  writable: true | string;
}

const info = (allocationId: string, rank: number): AllocationInfo => ({
  allocationId,
  trialId: 1,
  experimentId: 1,
  requestId: 'r1',
  hparams: {},
  seed: 1,
  config: parseExperimentConfig(YAML),
  latestCheckpoint: null,
  completedLength: 0,
  rank,
  worldSize: 1,
});

/** The agent's own environment: what a cloud GPU machine's agent might well have. */
const agentEnv = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: '/root',
  LANG: 'C.UTF-8',
  HONE_AGENT_TOKEN: 'cluster-agent-token',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  GOOGLE_APPLICATION_CREDENTIALS: '/etc/gcp.json',
  NODE_AUTH_TOKEN: 'npm-token',
  HONE_TF_BACKEND: 'cpu',
});

function startTask(master: FakeMaster, allocationId: string, workDir: string): StartTask {
  return {
    type: 'startTask',
    allocationId,
    trialId: 1,
    experimentId: 1,
    rank: 0,
    worldSize: 1,
    devices: [0],
    entrypoint: 'probe.mjs',
    contextUrl: `${master.url}/api/v1/experiments/1/context`,
    env: {
      HONE_MASTER_URL: `${master.url}/api/v1`.replace(/\/api\/v1$/, ''),
      HONE_TASK_TOKEN: TASK_TOKEN,
      HONE_ALLOCATION_ID: allocationId,
      HONE_TRIAL_ID: '1',
      HONE_EXPERIMENT_ID: '1',
      HONE_RANK: '0',
      HONE_WORLD_SIZE: '1',
      HONE_ENTRYPOINT: 'probe.mjs',
      PROBE_CREDENTIAL: path.join(workDir, 'credential.json'),
      PROBE_AGENT_PID: String(process.pid),
      EXPERIMENT_VARIABLE: 'from the experiment',
    },
  };
}

async function runProbe(master: FakeMaster, agent: Agent, allocationId: string, workDir: string): Promise<Probe> {
  master.send(agent.opts.agentId, startTask(master, allocationId, workDir));
  const line = await waitFor(
    `the probe of ${allocationId}`,
    async () => master.lines().find((l) => l.startsWith('PROBE ') && l.includes(allocationId)),
    60_000,
    100,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${master.lines().join('\n')}`);
  });
  await waitFor('the task to exit', async () => master.received.some((m) => m.type === 'taskState' && m.allocationId === allocationId && m.state === 'exited'), 30_000, 100);
  const exit = master.received.find((m) => m.type === 'taskState' && m.allocationId === allocationId && m.state === 'exited');
  expect(exit).toMatchObject({ exitCode: 0 });
  return JSON.parse(line.slice('PROBE '.length)) as Probe;
}

// The AWS credential chain reaches trials on purpose: they read and write S3 checkpoints (agent/src/taskEnv.ts).
const ALLOWED = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'PATH', 'HOME', 'LANG', 'HONE_TF_BACKEND', 'CUDA_VISIBLE_DEVICES', 'NODE_EXTRA_CA_CERTS', 'HONE_LOCAL_RANK', 'HONE_AGENT_ID', 'HONE_RING_HOST']);

function expectIsolated(p: Probe, workDir: string, allocationId: string): void {
  for (const k of Object.keys(p.env)) {
    const fromTask = k.startsWith('HONE_') && Object.keys(startTaskEnvKeys).includes(k);
    if (!ALLOWED.has(k) && !fromTask && !k.startsWith('PROBE_') && k !== 'EXPERIMENT_VARIABLE') throw new Error(`unexpected variable ${k} in a trial's environment`);
  }
  for (const k of ['HONE_AGENT_TOKEN', 'GOOGLE_APPLICATION_CREDENTIALS', 'NODE_AUTH_TOKEN']) expect(p.env).not.toHaveProperty(k);
  expect(p.env.AWS_ACCESS_KEY_ID).toBe('AKIAEXAMPLE');
  expect(JSON.stringify(p.env)).not.toContain('cluster-agent-token');
  expect(p.env.EXPERIMENT_VARIABLE).toBe('from the experiment');
  expect(p.env.HONE_TASK_TOKEN).toBe(TASK_TOKEN);
  expect(p.writable).toBe(true);
  if (root) {
    expect([p.uid, p.gid]).toEqual([65534, 65534]);
    expect(p.groups).not.toContain(0);
    expect(p.owner).toBe(65534);
    expect(p.home).toBe(p.cwd);
    expect(p.credential).toBe('EACCES');
    expect(p.agentEnviron).toBe('EACCES');
    expect(path.basename(p.cwd)).toBe(`${allocationId}-r0`);
  }
  expect(fs.existsSync(path.join(workDir, 'credential.json'))).toBe(true);
}
const startTaskEnvKeys = { HONE_MASTER_URL: 1, HONE_TASK_TOKEN: 1, HONE_ALLOCATION_ID: 1, HONE_TRIAL_ID: 1, HONE_EXPERIMENT_ID: 1, HONE_RANK: 1, HONE_WORLD_SIZE: 1, HONE_ENTRYPOINT: 1 };

describe('a trial started by the agent', () => {
  let master: FakeMaster;
  let context: Buffer | null = null;
  const agents: Agent[] = [];
  beforeAll(async () => {
    context = await archive({ 'probe.mjs': PROBE });
    master = await startFakeMaster({ context: () => context, taskToken: TASK_TOKEN, allocationInfo: info, agentSecret: 'fake-agent-secret-0123456789' });
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await master?.close();
  });

  it('gets an explicit environment without the agent\'s secrets and runs unprivileged, spawned or pre-warmed', async () => {
    // The work directory under a private (0700) one: the agent finds task directories a place the rank user reaches.
    const workDir = path.join(tmpDir('agent-iso'), 'work');
    const agent = new Agent({ masterUrl: master.url, agentId: 'iso-1', resourcePool: 'default', devices: cpu, workDir, token: 'cluster-agent-token', env: agentEnv(), logLevel: 'silent' });
    agents.push(agent);
    agent.start();
    await waitFor('hello', async () => master.hellos.find((h) => h.agentId === 'iso-1'), 10_000, 20);
    await waitFor('the pre-warmed harness', async () => agent.warmReady() > 0, 60_000, 100);
    const warm = await runProbe(master, agent, 'alloc-warm', workDir);
    expectIsolated(warm, workDir, 'alloc-warm');
    // The next task starts before another harness is warm: a fresh spawn, with the same rules.
    const cold = await runProbe(master, agent, 'alloc-cold', workDir);
    expectIsolated(cold, workDir, 'alloc-cold');
    expect(warm.env).toMatchObject({ HONE_TF_BACKEND: 'cpu', LANG: 'C.UTF-8', CUDA_VISIBLE_DEVICES: '' });
    // The credential from welcome, kept for the next hello.
    expect(JSON.parse(fs.readFileSync(path.join(workDir, 'credential.json'), 'utf8')).masters[master.url].secret).toBe('fake-agent-secret-0123456789');
    await agent.stop();
  }, 180_000);

  it('stops unpacking a model archive past the agent\'s limits, with a clear error in the trial log', async () => {
    const workDir = path.join(tmpDir('agent-iso-limit'), 'work');
    const agent = new Agent({ masterUrl: master.url, agentId: 'iso-2', resourcePool: 'default', devices: cpu, workDir, env: agentEnv(), logLevel: 'silent', prewarm: false, extractLimits: { maxFiles: 5 } });
    agents.push(agent);
    agent.start();
    await waitFor('hello', async () => master.hellos.find((h) => h.agentId === 'iso-2'), 10_000, 20);
    const files: Record<string, string> = { 'probe.mjs': PROBE };
    for (let i = 0; i < 20; i++) files[`f${i}.txt`] = String(i);
    context = await archive(files);
    try {
      master.send('iso-2', startTask(master, 'alloc-big', workDir));
      await waitFor('the task to fail', async () => master.received.find((m) => m.type === 'taskState' && m.allocationId === 'alloc-big' && m.state === 'exited'), 20_000, 50);
    } finally {
      context = await archive({ 'probe.mjs': PROBE });
    }
    expect(master.received.find((m) => m.type === 'taskState' && m.allocationId === 'alloc-big' && m.state === 'exited')).toMatchObject({ exitCode: 1 });
    expect(master.lines()).toContain('ERROR agent: could not prepare the model directory: the model archive holds more than 5 entries (the agent\'s limit): list data and outputs in .honeignore');
    await agent.stop();
  }, 60_000);
});

describe('an https master', () => {
  let master: FakeMaster;
  let caFile = '';
  const agents: Agent[] = [];
  beforeAll(async () => {
    const tls = privateCa();
    caFile = tls.caFile;
    const context = await archive({ 'probe.mjs': PROBE });
    master = await startFakeMaster({
      tls: { key: tls.key, cert: tls.cert },
      context: () => context,
      taskToken: TASK_TOKEN,
      allocationInfo: info,
    });
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await master?.close();
  });

  it('is refused by an agent that does not trust its certificate', async () => {
    const agent = new Agent({ masterUrl: master.url, agentId: 'tls-untrusting', resourcePool: 'default', devices: cpu, workDir: path.join(tmpDir('agent-tls-no'), 'work'), env: agentEnv(), logLevel: 'silent', prewarm: false });
    agents.push(agent);
    agent.start();
    await new Promise((r) => setTimeout(r, 1500));
    expect(agent.connected).toBe(false);
    expect(master.hellos.find((h) => h.agentId === 'tls-untrusting')).toBeUndefined();
    await agent.stop();
  });

  it('is verified with --ca by the agent (WebSocket, model archive) and by the harness (REST)', async () => {
    const workDir = path.join(tmpDir('agent-tls-yes'), 'work');
    const agent = new Agent({ masterUrl: master.url, agentId: 'tls-1', resourcePool: 'default', devices: cpu, workDir, env: agentEnv(), logLevel: 'silent', ca: caFile });
    agents.push(agent);
    agent.start();
    await waitFor('hello over wss', async () => master.hellos.find((h) => h.agentId === 'tls-1'), 10_000, 20);
    await waitFor('the pre-warmed harness', async () => agent.warmReady() > 0, 60_000, 100);
    const p = await runProbe(master, agent, 'alloc-tls', workDir);
    // A copy of the CA the rank user can read (here in the task root: the work directory is under a private one).
    expect(path.basename(p.env.NODE_EXTRA_CA_CERTS!)).toBe('master-ca.pem');
    expect(fs.readFileSync(p.env.NODE_EXTRA_CA_CERTS!, 'utf8')).toBe(fs.readFileSync(caFile, 'utf8'));
    expect(p.env.HONE_MASTER_URL.startsWith('https://')).toBe(true);
    await agent.stop();
  }, 120_000);
});
