// The hone CLI against a real master and a real 1-slot agent: what a new user ran into while trials trained,
// failed and logged to stderr; signing in, users, access tokens and who may change whose experiment.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, TrialDetail } from '@hone/protocol/api';
import { buildCli, hone, testAuthFile } from '../../cli/test/hone';
import { api, startAgentProcess, startMasterProcess, TEST_ADMIN_PASSWORD, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';

/** A core API model directory whose train.ts is `body`, run once per searcher operation `op` of `core`. */
function coreModel(body: string): string {
  const dir = tmpDir('cli-e2e-model');
  fs.writeFileSync(
    path.join(dir, 'train.ts'),
    `import type { CoreContext } from '@hone/harness';\n` +
      `export default async function train(core: CoreContext): Promise<void> {\n` +
      `  for await (const op of core.searcher.operations()) {\n${body}\n  }\n}\n`,
  );
  return dir;
}

function config(name: string, extra = ''): string {
  const f = path.join(tmpDir('cli-e2e-config'), `${name}.yaml`);
  fs.writeFileSync(f, `name: ${name}\nentrypoint: train.ts\nsearcher:\n  name: single\n  metric: validation_loss\n  max_length:\n    batches: 400\n${extra}`);
  return f;
}

describe('hone on a local cluster', () => {
  let master: MasterProc;
  let agent: Proc;
  let m: string[];

  beforeAll(async () => {
    buildCli();
    const dataDir = tmpDir('cli-e2e');
    master = await startMasterProcess({ dataDir });
    agent = startAgentProcess({ masterUrl: master.url, id: 'cli-agent', slots: 1, workDir: path.join(dataDir, 'work') });
    m = ['-m', master.url];
    // Signed in the way a user is: every later `hone` of this file uses the session kept in the test's auth file.
    const login = await hone([...m, 'user', 'login', 'admin', '--password-stdin'], { input: `${TEST_ADMIN_PASSWORD}\n` });
    expect(login.stderr).toBe('');
    expect(login.stdout).toContain(`Signed in to ${master.url} as admin (admin)`);
    await waitFor('agent', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.some((a) => a.state === 'CONNECTED'));
  }, 120_000);

  afterAll(async () => {
    await agent?.kill();
    await master?.kill();
  });

  async function submit(configPath: string, dir: string): Promise<number> {
    const r = await hone([...m, '--json', 'experiment', 'create', configPath, dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout).id as number;
  }

  it('describe shows the length trained so far, the progress and the best metric while a trial trains', async () => {
    // The trial validates at 100 of 400 batches, then waits for the test to let it finish.
    const gate = path.join(tmpDir('cli-gate'), 'go');
    // An agent running as root starts ranks as an unprivileged user, who must be able to see the gate.
    fs.chmodSync(path.dirname(gate), 0o755);
    const dir = coreModel(`
    await core.train.reportValidationMetrics(100, { validation_loss: 0.5 });
    await op.reportProgress(100);
    const fs = await import('node:fs');
    while (!fs.existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 100));
    await core.train.reportValidationMetrics(op.length, { validation_loss: 0.25 });
    await op.reportCompleted(0.25);`);
    const id = await submit(config('gated'), dir);
    const trial = await waitFor('the first validation', async () => {
      const t = (await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`)).body.trials[0];
      return t && t.trainedLength >= 100 ? t : null;
    }, 120_000);

    const exp = await hone([...m, 'experiment', 'describe', String(id)]);
    expect(exp.code).toBe(0);
    expect(exp.stdout).toContain('Length (batches)');
    expect(exp.stdout).toContain('100/400');
    expect(exp.stdout).not.toContain('Progress: 0%');
    expect(exp.stdout).toMatch(/Best: 0\.50000/);
    const t = await hone([...m, 'trial', 'describe', String(trial.id)]);
    expect(t.stdout).toContain('Length: 100/400 batches (25%)');
    expect(t.stdout).toMatch(/Best validation: 0\.50000/);

    fs.writeFileSync(gate, '');
    expect((await waitForExperimentEnd(master.url, id)).state).toBe('COMPLETED');
  }, 200_000);

  it('trial logs sends every line to stdout, the trial\'s stderr included, with and without --follow and --tail', async () => {
    const dir = coreModel(`
    for (let i = 0; i < 5; i++) {
      console.log('out line ' + i);
      console.error('err line ' + i);
    }
    await core.train.reportValidationMetrics(op.length, { validation_loss: 1 });
    await op.reportCompleted(1);`);
    const id = await submit(config('stderr-logs'), dir);
    const exp = await waitForExperimentEnd(master.url, id);
    const trialId = String(exp.trials[0]!.id);
    for (const args of [['trial', 'logs', trialId], ['trial', 'logs', trialId, '--follow']]) {
      const r = await hone([...m, ...args]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      for (let i = 0; i < 5; i++) {
        expect(r.stdout).toContain(`out line ${i}`);
        expect(r.stdout).toContain(`err line ${i}`);
      }
    }
    const tail = await hone([...m, 'trial', 'logs', trialId, '--tail', '200']);
    expect(tail.stderr).toBe('');
    expect(tail.stdout).toContain('err line 4');
  }, 200_000);

  describe('an errored trial', () => {
    let id: number;
    let detail: TrialDetail;
    let runs: string[];
    beforeAll(async () => {
      const dir = coreModel(`
    console.error('loading shards from /data/shards');
    throw new Error('no training data in /data/shards');`);
      id = await submit(config('failing', 'max_restarts: 1\n'), dir);
      const exp = await waitForExperimentEnd(master.url, id);
      expect(exp.state).toBe('ERROR');
      detail = (await api<TrialDetail>(master.url, 'GET', `/trials/${exp.trials[0]!.id}`)).body;
      const t = await hone([...m, 'trial', 'describe', String(detail.id)]);
      expect(t.code).toBe(0);
      expect(t.stdout).toContain(`Failure: ${detail.failure}`);
      expect(t.stdout).toContain('Runs (restart history, oldest first):');
      runs = t.stdout.split('\n').filter((l) => /^│ [12] /.test(l));
    }, 200_000);

    it('says why: trial describe shows the failure and one line per run (when, where, how it ended, its last error line)', async () => {
      expect(detail.failure).toBeTruthy();
      expect(detail.allocations).toHaveLength(2);
      expect(runs).toHaveLength(2);
      runs.forEach((r, i) => {
        const a = detail.allocations[i]!;
        expect(r).toContain(a.startedAt!.replace('T', ' ').slice(0, 19));
        expect(r).toContain('cli-agent');
        expect(r).toContain(`${a.exitReason} (failed)`);
        expect(r).toContain(a.lastError!.trim());
      });
      const e = await hone([...m, 'experiment', 'describe', String(id)]);
      expect(e.stdout).toContain('Failures:');
      expect(e.stdout).toContain(`Trial ${detail.id} (ERROR, 1 restart): ${detail.failure}`);
    });

    it('quotes the exception that ended each run, not the last frame of its stack', () => {
      for (const r of runs) expect(r).toContain('no training data in /data/shards');
    });
  });

  it('shows, as the master says it, why a 2-slot trial cannot run on a 1-slot cluster', async () => {
    const r = await hone([...m, 'experiment', 'create', 'examples/synthetic/distributed.yaml', 'examples/synthetic']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('npm start -- --slots 2');
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('Packed'))).toHaveLength(1);
  });

  it('describe | head: a closed pipe ends the CLI quietly with status 0', async () => {
    const id = await submit('examples/synthetic/single.yaml', 'examples/synthetic');
    await hone([...m, 'experiment', 'kill', String(id)]);
    const r = await hone([...m, 'experiment', 'describe', String(id)], { closeStdout: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  describe('users, sessions, access tokens and permissions', () => {
    /** `hone` signed in through its own auth file (another person at another terminal). */
    const as = (authFile: string) => (args: string[], input?: string) => hone([...m, ...args], { env: { HONE_AUTH_FILE: authFile }, ...(input !== undefined ? { input } : {}) });
    const alice = as(path.join(tmpDir('cli-alice'), 'auth.json'));
    let alicePassword: string;

    beforeAll(async () => {
      const created = await hone([...m, 'user', 'create', 'alice']);
      expect(created.code).toBe(0);
      alicePassword = /^Password: (\S+)$/m.exec(created.stdout)?.[1] ?? '';
      expect(alicePassword).toHaveLength(20);
      expect(created.stdout).toContain('shown only this once');
      const login = await alice(['user', 'login', 'alice', '--password-stdin'], `${alicePassword}\n`);
      expect(login.code).toBe(0);
    });

    it('keeps the session for the master URL in the auth file, readable by its owner only', async () => {
      expect(fs.statSync(testAuthFile).mode & 0o777).toBe(0o600);
      const file = JSON.parse(fs.readFileSync(testAuthFile, 'utf8'));
      expect(file.version).toBe(1);
      expect(file.masters[master.url].username).toBe('admin');
      expect(file.masters[master.url].token).toMatch(/^hone_/);
      const me = await hone([...m, '--json', 'user', 'whoami']);
      expect(JSON.parse(me.stdout)).toMatchObject({ username: 'admin', admin: true, master: master.url, tokenSource: 'auth file' });
      const users = await hone([...m, 'user', 'list']);
      expect(users.stdout).toMatch(/admin +│ yes +│ yes/);
      expect(users.stdout).toMatch(/alice +│ no +│ yes/);
    });

    it("refuses someone else's experiment with the master's reason; the owner and the audit show who did what", async () => {
      const id = await submit('examples/synthetic/single.yaml', 'examples/synthetic');
      const refused = await alice(['experiment', 'pause', String(id)]);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim()).toBe(`Error: only its owner (admin) or an admin may pause experiment ${id} (you are signed in as alice)`);
      expect((await alice(['user', 'create', 'mallory'])).stderr).toContain('only an admin may create users');

      const mine = await alice(['--json', 'experiment', 'create', 'examples/synthetic/single.yaml', 'examples/synthetic', '--paused']);
      const mineId = JSON.parse(mine.stdout).id as number;
      const listed = await hone([...m, '--json', 'experiment', 'list', '--user', 'alice']);
      expect((JSON.parse(listed.stdout) as Array<{ id: number; user: string }>).map((e) => [e.id, e.user])).toEqual([[mineId, 'alice']]);
      expect((await hone([...m, 'experiment', 'list'])).stdout).toMatch(new RegExp(`│ ${mineId} +│ synthetic-single +│ alice `));

      expect((await hone([...m, 'experiment', 'kill', String(mineId)])).code).toBe(0);
      const described = await hone([...m, 'experiment', 'describe', String(mineId)]);
      expect(described.stdout).toContain('Owner:     alice');
      const activity = described.stdout.slice(described.stdout.indexOf('Activity (oldest first):'));
      expect(activity).toMatch(/│ alice +│ create +│ name=synthetic-single/);
      expect(activity).toMatch(/│ admin +│ kill /);
      await hone([...m, 'experiment', 'kill', String(id)]);
    }, 120_000);

    it('an access token works as HONE_TOKEN until it is revoked; admins see every token', async () => {
      const created = await alice(['--json', 'token', 'create', '--description', 'ci job', '--expires-in', '30d']);
      const t = JSON.parse(created.stdout) as { id: number; token: string; expiresAt: string };
      expect(t.token).toMatch(/^hone_/);
      expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(29 * 86400_000);
      const me = await hone([...m, 'user', 'whoami'], { env: { HONE_TOKEN: t.token } });
      expect(me.stdout).toContain('alice on');
      expect(me.stdout).toContain('token from HONE_TOKEN');
      expect((await alice(['token', 'list'])).stdout).toMatch(new RegExp(`│ ${t.id} +│ alice +│ ci job +│ active `));
      expect((await alice(['token', 'list', '--all'])).stderr).toContain("only an admin may list other users' tokens");
      expect((await hone([...m, 'token', 'list', '--all'])).stdout).toContain('ci job');

      expect((await alice(['token', 'revoke', String(t.id)])).stdout).toContain(`Revoked access token ${t.id}`);
      const after = await hone([...m, 'agent', 'list'], { env: { HONE_TOKEN: t.token } });
      expect(after.code).toBe(1);
      expect(after.stderr).toContain(`The token in HONE_TOKEN was refused by ${master.url}`);
      expect((await alice(['token', 'list'])).stdout).toMatch(new RegExp(`│ ${t.id} .*│ revoked `));
    });

    it('a deactivated user is signed out everywhere until activated again', async () => {
      expect((await hone([...m, 'user', 'deactivate', 'alice'])).stdout).toContain('User alice deactivated');
      const out = await alice(['experiment', 'list']);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(`sign in again: \`hone -m ${master.url} user login\``);
      expect((await alice(['user', 'login', 'alice', '--password-stdin'], `${alicePassword}\n`)).stderr).toContain('user alice is deactivated');
      expect((await hone([...m, 'user', 'activate', 'alice'])).code).toBe(0);
      expect((await alice(['user', 'login', 'alice', '--password-stdin'], `${alicePassword}\n`)).code).toBe(0);
    });

    it('change-password keeps the CLI signed in with a fresh session; the old password no longer works', async () => {
      const changed = await alice(['user', 'change-password', '--password-stdin'], `${alicePassword}\nalice-new-password\n`);
      expect(changed.stderr).toBe('');
      expect(changed.code).toBe(0);
      expect((await alice(['user', 'whoami'])).stdout).toContain('alice on');
      expect((await alice(['user', 'login', 'alice', '--password-stdin'], `${alicePassword}\n`)).stderr.trim()).toBe('Error: wrong user name or password');
      expect((await alice(['user', 'change-password', '--password-stdin'], 'wrong-old-password\nwhatever-new\n')).stderr).toContain('the current password is wrong');
    });

    it('logout ends the session on the master and forgets it', async () => {
      const bob = as(path.join(tmpDir('cli-bob'), 'auth.json'));
      expect((await hone([...m, 'user', 'create', 'bob', '--password-stdin'], { input: 'bob-password\n' })).stdout).not.toContain('Password:');
      expect((await bob(['user', 'login', 'bob', '--password-stdin'], 'bob-password\n')).code).toBe(0);
      const out = await bob(['user', 'logout']);
      expect(out.stdout).toContain(`Signed out of ${master.url}`);
      const after = await bob(['user', 'whoami']);
      expect(after.code).toBe(1);
      expect(after.stderr).toContain(`Not signed in to ${master.url}: run \`hone -m ${master.url} user login\``);
    });
  });
});
