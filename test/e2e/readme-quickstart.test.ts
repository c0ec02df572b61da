// End to end: the README's Quick start as a new user follows it. The commands come from README.md itself: the local
// cluster started the way `npm start` starts it (scripts/local-cluster.ts, its default of one CPU slot), which signs
// the CLI in as admin, then each `npx hone` line of the Quick start with no sign-in of its own, then the real model it
// suggests next (the MNIST random search over MLPs and CNNs), on the default backend; and a restart, which signs in
// again with the kept password. The only departures: a free port and a temporary data directory instead of 8080 and
// ./.hone (the CLI finds the master through HONE_MASTER, as the README's CLI reference says), a temporary auth file
// (HONE_AUTH_FILE) instead of ~/.hone/auth.json, and a temporary directory for `checkpoint download -o`.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, TaskLog } from '@hone/protocol';
import { api, ROOT, signIn, tmpDir, waitFor } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const quickStart = /^## Quick start.*?$([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
const shellBlocks = [...quickStart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
/** The `npx hone ...` lines of the Quick start's shell blocks, comments dropped. */
const cliLines = shellBlocks.flatMap((b) => b.split('\n').map((l) => l.replace(/#.*$/, '').trim())).filter((l) => l.startsWith('npx hone '));
/** The real model the Quick start suggests after the synthetic example. */
const mnistLine = /`(npx hone experiment create examples\/mnist\/[^`]+)`/.exec(quickStart)?.[1];

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the README Quick start, as written', () => {
  const dataDir = tmpDir('readme');
  // Where the CLI keeps its sessions, for the cluster and every `npx hone` alike.
  const authFile = path.join(tmpDir('readme-auth'), 'auth.json');
  // A new user's environment: no token, admin password or auth file of the caller's.
  const { HONE_TOKEN: _t, HONE_ADMIN_PASSWORD: _p, HONE_MASTER: _m, HONE_CA: _c, ...userEnv } = process.env;
  let cluster: ChildProcess;
  const clusterOutput: string[] = [];
  let url = '';
  // What the cluster printed, for a failure message.
  const tail = () => clusterOutput.slice(-40).join('\n');

  /** Starts `npm start` (exactly what package.json runs) on a free port; resolves with the master URL it prints. */
  async function startCluster(): Promise<string> {
    clusterOutput.length = 0;
    const env: NodeJS.ProcessEnv = { ...userEnv, HONE_AUTH_FILE: authFile, HONE_LOG_LEVEL: 'warn' };
    delete env.HONE_TF_BACKEND; // the default backend, as a new user has it
    delete env.HONE_DB_URL;
    // Detached so that the whole group can be stopped.
    cluster = spawn(process.execPath, ['--import', 'tsx', 'scripts/local-cluster.ts', '--port', '0', '--data-dir', dataDir], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    for (const s of [cluster.stdout!, cluster.stderr!]) {
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        clusterOutput.push(...d.split('\n').filter(Boolean));
        if (clusterOutput.length > 2000) clusterOutput.splice(0, clusterOutput.length - 2000);
      });
    }
    const started = cluster;
    return waitFor(
      'the local cluster to start',
      async () => {
        if (started.exitCode !== null) throw new Error(`npm start exited with ${started.exitCode}:\n${tail()}`);
        return /^Hone is running\. Master: (\S+)/m.exec(clusterOutput.join('\n'))?.[1];
      },
      240_000,
    );
  }

  async function stopCluster(): Promise<void> {
    if (!cluster || cluster.exitCode !== null) return;
    const exited = new Promise((resolve) => cluster.once('exit', resolve));
    cluster.kill('SIGTERM'); // stops master and agent, as Ctrl-C does
    const timer = setTimeout(() => process.kill(-cluster.pid!, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** The session the cluster kept for `master` in the auth file. */
  const keptSession = (master: string) => (JSON.parse(fs.readFileSync(authFile, 'utf8')) as { masters: Record<string, { token: string; username: string }> }).masters[master];

  /** Runs one README line `npx hone ...` (words split on spaces: the README's commands quote nothing). */
  const npx = (line: string): Promise<Result> =>
    new Promise((resolve) => {
      const [cmd, ...args] = line.split(/\s+/);
      const child = spawn(cmd!, args, { cwd: ROOT, env: { ...userEnv, HONE_AUTH_FILE: authFile, HONE_MASTER: url }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });

  beforeAll(async () => {
    expect(shellBlocks[0], 'the Quick start starts the cluster with npm start').toMatch(/npm start/);
    url = await startCluster();
    // The test's own API calls sign in as the admin too, with the password the cluster made and kept.
    await signIn(url, 'admin', fs.readFileSync(path.join(dataDir, 'admin-password'), 'utf8').trim());
    // The agent joins right after the master is up.
    await waitFor('the agent', async () => (await api<Array<{ state: string }>>(url, 'GET', '/agents')).body.some((a) => a.state === 'CONNECTED'), 60_000);
  }, 300_000);

  afterAll(stopCluster, 30_000);

  it('makes the admin password on the first start, keeps it (0600), says how to open the web UI and signs the CLI in', () => {
    const passwordFile = path.join(dataDir, 'admin-password');
    const password = fs.readFileSync(passwordFile, 'utf8').trim();
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(fs.statSync(passwordFile).mode & 0o777).toBe(0o600);
    const out = clusterOutput.join('\n');
    expect(out).toContain(`Web UI: open ${url}/ and sign in as admin with password ${password} (kept in ${passwordFile}).`);
    expect(out).toContain(`The CLI is signed in as admin for ${url} (${authFile}).`);
    expect(keptSession(url)?.username).toBe('admin');
    expect(fs.statSync(authFile).mode & 0o777).toBe(0o600);
  });

  it('lists the CLI steps and a real model to try', () => {
    expect(cliLines[0]).toBe('npx hone experiment create examples/synthetic/random.yaml examples/synthetic --follow');
    expect(cliLines.length).toBeGreaterThanOrEqual(5);
    expect(mnistLine).toBe('npx hone experiment create examples/mnist/random.yaml examples/mnist');
  });

  it('trains the synthetic random search to COMPLETED and each CLI step works', async () => {
    let uuid = '';
    for (const line of cliLines) {
      let command = line;
      if (command.includes('<uuid>')) command = command.replace('<uuid>', uuid);
      const outDir = /-o (\S+)/.exec(command)?.[1];
      const downloadTo = outDir ? path.join(tmpDir('readme-ckpt'), 'ckpt') : undefined;
      if (outDir) command = command.replace(`-o ${outDir}`, `-o ${downloadTo}`);
      const r = await npx(command);
      expect(r.code, `${command} exited with ${r.code}:\n${r.stdout}\n${r.stderr}\ncluster:\n${tail()}`).toBe(0);

      const [, , noun, verb] = line.split(/\s+/);
      if (noun === 'experiment' && verb === 'create') expect(r.stdout).toMatch(/Experiment 1 ended: COMPLETED/);
      if (noun === 'experiment' && verb === 'list') expect(r.stdout).toMatch(/synthetic-random[\s\S]*COMPLETED/);
      if (noun === 'experiment' && verb === 'describe') {
        expect(r.stdout).toContain('COMPLETED');
        uuid = UUID.exec(r.stdout)?.[0] ?? '';
        expect(uuid, 'describe shows a checkpoint uuid').not.toBe('');
      }
      if (noun === 'trial' && verb === 'logs') expect(r.stdout.trim().split('\n').length).toBeLessThanOrEqual(Number(/--tail (\d+)/.exec(line)?.[1] ?? Infinity));
      if (noun === 'agent') expect(r.stdout).toContain('local-agent');
      if (noun === 'checkpoint' && verb === 'download') expect(fs.readdirSync(downloadTo!).length).toBeGreaterThan(0);
    }
    const exp = (await api<ExperimentDetail>(url, 'GET', '/experiments/1')).body;
    expect(exp.state).toBe('COMPLETED');
    expect(exp.trials).toHaveLength(4);
    for (const t of exp.trials) expect([t.state, t.restarts]).toEqual(['COMPLETED', 0]);
  }, 420_000);

  it('then trains the MNIST random search over MLPs and CNNs to COMPLETED, every trial above chance', async () => {
    const r = await npx(mnistLine!);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const id = Number(/Created experiment (\d+)/.exec(r.stdout)?.[1]);
    const exp = await waitForExperimentEnd(url, id, 540_000);
    const summary = exp.trials.map((t) => `trial ${t.id} ${t.hparams.model} ${t.state} restarts ${t.restarts} accuracy ${t.latestValidation?.validation_accuracy} ${t.failure ?? ''}`).join('\n');
    expect(exp.state, summary).toBe('COMPLETED');
    expect(exp.trials).toHaveLength(4);
    for (const t of exp.trials) {
      expect([t.state, t.restarts, t.failure], summary).toEqual(['COMPLETED', 0, null]);
      expect(t.completedLength).toBe(200);
      expect(t.latestValidation?.validation_accuracy, summary).toBeGreaterThan(0.1); // 10 digits: chance is 0.1
    }
    const cnns = exp.trials.filter((t) => t.hparams.model === 'cnn');
    // The example fixes its searcher seed (reproducibility.experiment_seed) so that it draws both kinds.
    expect(cnns.length, summary).toBeGreaterThan(0);
    expect(exp.trials.some((t) => t.hparams.model === 'mlp'), summary).toBe(true);
    for (const t of cnns) {
      const logs = (await api<TaskLog[]>(url, 'GET', `/trials/${t.id}/logs`)).body.map((l) => l.line);
      expect(logs.some((l) => l.includes('backend: wasm')), logs.slice(0, 20).join('\n')).toBe(true);
    }
  }, 600_000);

  it('signs the CLI in again after a restart, with the kept password, and says where to read it', async () => {
    const before = keptSession(url)!.token;
    await stopCluster();
    url = await startCluster();
    const out = clusterOutput.join('\n');
    expect(out).toContain(`Web UI: open ${url}/ and sign in as admin with the password in ${path.join(dataDir, 'admin-password')}.`);
    expect(out).toContain(`The CLI is signed in as admin for ${url}`);
    const session = keptSession(url)!;
    expect(session.token).not.toBe(before);
    const r = await npx('npx hone experiment list');
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('synthetic-random');
  }, 300_000);
});
