// Three hosts: the master and two agents, each in a network namespace of its own on one bridge, with addresses
// that exist only inside those namespaces. The master serves TLS and requires an agent token on its namespace
// address; a 2-slot trial runs one rank on each "host" (ring all-reduce between namespace addresses) and
// completes; an agent with a wrong token and a client without a session are refused.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TEST_ADMIN_PASSWORD, tmpDir } from '../helpers/processes';

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const NET = '10.250.77';
const HOSTS = { master: { ns: 'hone-mh-master', ip: `${NET}.1` }, a1: { ns: 'hone-mh-a1', ip: `${NET}.2` }, a2: { ns: 'hone-mh-a2', ip: `${NET}.3` }, client: { ns: 'hone-mh-client', ip: `${NET}.9` } };
const BRIDGE_NS = 'hone-mh-net';

function sh(...args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: 'pipe' });
}

/** Why namespaces cannot be made here, or null. */
function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  try {
    sh('ip', 'netns', 'add', 'hone-mh-probe');
    sh('ip', 'netns', 'del', 'hone-mh-probe');
    return null;
  } catch (e) {
    return `ip netns does not work here: ${(e as Error).message.split('\n')[0]}`;
  }
}

function teardown(): void {
  for (const ns of [...Object.values(HOSTS).map((h) => h.ns), BRIDGE_NS]) {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {
      // not there
    }
  }
}

function setup(): void {
  teardown();
  sh('ip', 'netns', 'add', BRIDGE_NS);
  sh('ip', 'netns', 'exec', BRIDGE_NS, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
  sh('ip', 'netns', 'exec', BRIDGE_NS, 'ip', 'link', 'set', 'br0', 'up');
  let i = 0;
  for (const h of Object.values(HOSTS)) {
    i += 1;
    sh('ip', 'netns', 'add', h.ns);
    sh('ip', 'link', 'add', `hmh${i}`, 'netns', h.ns, 'type', 'veth', 'peer', 'name', `hmh${i}b`, 'netns', BRIDGE_NS);
    sh('ip', 'netns', 'exec', BRIDGE_NS, 'ip', 'link', 'set', `hmh${i}b`, 'master', 'br0');
    sh('ip', 'netns', 'exec', BRIDGE_NS, 'ip', 'link', 'set', `hmh${i}b`, 'up');
    sh('ip', 'netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.ip}/24`, 'dev', `hmh${i}`);
    sh('ip', 'netns', 'exec', h.ns, 'ip', 'link', 'set', `hmh${i}`, 'up');
    sh('ip', 'netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up');
  }
}

interface Running {
  child: ChildProcess;
  out: string[];
}

function inNamespace(ns: string, args: string[], env: Record<string, string> = {}): Running {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, HONE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  return { child, out };
}

async function until(what: string, fn: () => boolean, ms: number, out: string[]): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${out.slice(-40).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const why = unavailable();
if (why && IN_CI) {
  describe('three hosts in network namespaces', () => {
    it('needs network namespaces in CI', () => {
      throw new Error(`the multi-host test cannot run: ${why}`);
    });
  });
} else {
  describe.skipIf(why !== null)(`three hosts in network namespaces${why ? ` — skipped: ${why}` : ''}`, () => {
    const dir = tmpDir('multihost');
    const cert = path.join(dir, 'master.pem');
    const key = path.join(dir, 'master.key');
    const token = 'multi-host-agent-token';
    const url = `https://${HOSTS.master.ip}:8443`;
    const procs: Running[] = [];

    beforeAll(async () => {
      setup();
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${HOSTS.master.ip}`, '-addext', `subjectAltName=IP:${HOSTS.master.ip}`], { stdio: 'ignore' });
      const master = inNamespace(HOSTS.master.ns, ['master/src/main.ts', '--host', HOSTS.master.ip, '--port', '8443', '--data-dir', path.join(dir, 'master'), '--tls-cert', cert, '--tls-key', key, '--agent-token', token], { HONE_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD });
      procs.push(master);
      await until('the master to listen', () => master.out.some((l) => l.startsWith('Master listening at https://')), 90_000, master.out);
      for (const [name, h] of [['a1', HOSTS.a1], ['a2', HOSTS.a2]] as const) {
        procs.push(inNamespace(h.ns, ['agent/src/main.ts', '--master', url, '--ca', cert, '--token', token, '--id', `host-${name}`, '--slots', '1', '--no-gpus', '--advertise-host', h.ip, '--work-dir', path.join(dir, name)]));
      }
    }, 120_000);

    afterAll(async () => {
      for (const p of procs) p.child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      teardown();
    });

    it('refuses an agent with a wrong token: it is told why and keeps retrying', async () => {
      const bad = inNamespace(HOSTS.a2.ns, ['agent/src/main.ts', '--master', url, '--ca', cert, '--token', 'wrong-token', '--id', 'intruder', '--slots', '1', '--no-gpus', '--work-dir', path.join(dir, 'intruder')]);
      procs.push(bad);
      const refusals = () => bad.out.filter((l) => l.includes('"code":4401') && l.includes('invalid agent token'));
      await until('two refusals', () => refusals().length >= 2, 60_000, bad.out);
      // It waits longer each time instead of hammering the master.
      await until('a longer wait', () => refusals().some((l) => (JSON.parse(l) as { retryInMs: number }).retryInMs >= 1000), 60_000, bad.out);
    }, 90_000);

    it('runs a 2-slot trial with one rank on each agent host, over TLS, and refuses a client without a session', async () => {
      const client = inNamespace(HOSTS.client.ns, ['test/e2e/netns/client.ts', url, TEST_ADMIN_PASSWORD, ROOT], { NODE_EXTRA_CA_CERTS: cert });
      procs.push(client);
      await new Promise<void>((resolve) => client.child.on('exit', () => resolve()));
      const line = client.out.find((l) => l.startsWith('{"anonymous"'));
      expect(line, client.out.join('\n')).toBeDefined();
      const seen = JSON.parse(line!);
      expect(seen.anonymous).toBe(401);
      expect(seen.created).toBe(201);
      expect(seen.agents.map((a: { id: string }) => a.id).sort()).toEqual(['host-a1', 'host-a2']);
      expect(seen.agents.every((a: { state: string }) => a.state === 'CONNECTED')).toBe(true);
      expect(seen.state, JSON.stringify(seen.runs)).toBe('COMPLETED');
      expect(seen.trial.restarts).toBe(0);
      // One run, placed across both hosts.
      expect(seen.runs).toHaveLength(1);
      expect([...seen.runs[0].agents].sort()).toEqual(['host-a1', 'host-a2']);
    }, 300_000);
  });
}
