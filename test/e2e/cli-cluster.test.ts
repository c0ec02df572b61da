// The hone CLI against a real master and a real 1-slot agent: what a new user ran into while trials trained,
// failed and logged to stderr.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, TrialDetail } from '@hone/protocol/api';
import { buildCli, hone } from '../../cli/test/hone';
import { api, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
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
});
