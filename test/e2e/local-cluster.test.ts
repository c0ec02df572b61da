// End to end: a real master and a real agent as separate processes; an experiment submitted with the CLI
// trains the synthetic example; results, checkpoints and logs are checked through the API.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointInfo, ExperimentDetail, MetricPoint, TaskLog, TrialSummary } from '@hone/protocol';
import { makeTrialContext, restoreCheckpoint, selectBackend } from '@hone/harness';
import { api, ROOT, runCli, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { freshDatabase, postgresAvailable } from '../helpers/services';
import { waitForExperimentEnd } from '../helpers/experiments';
import { createTrial } from '../../examples/synthetic/model';

const hasPg = await postgresAvailable();

async function readDir(dir: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out[f] = new Uint8Array(fs.readFileSync(p));
  }
  return out;
}

for (const backend of ['pglite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !hasPg)(`local cluster on ${backend}`, () => {
    let master: MasterProc;
    let agent: Proc;
    let drop: (() => Promise<void>) | undefined;
    const dataDir = tmpDir(`e2e-${backend}`);

    beforeAll(async () => {
      let dbUrl: string | undefined;
      if (backend === 'postgres') {
        const db = await freshDatabase('hone_e2e');
        dbUrl = db.url;
        drop = db.drop;
      }
      master = await startMasterProcess({ dataDir, ...(dbUrl ? { dbUrl } : {}) });
      agent = startAgentProcess({ masterUrl: master.url, id: `agent-${backend}`, slots: 2, workDir: path.join(dataDir, 'work') });
      await selectBackend();
    }, 120_000);

    afterAll(async () => {
      await agent?.kill();
      await master?.kill();
      await drop?.();
    });

    it('trains a random search of 4 trials, 2 at a time on 2 slots, with metrics, checkpoints and logs', async () => {
      const created = await runCli(['-m', master.url, 'experiment', 'create', 'examples/synthetic/random.yaml', 'examples/synthetic', '--json']);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const id = JSON.parse(created.stdout).id as number;

      const exp = await waitForExperimentEnd(master.url, id);
      expect(exp.state).toBe('COMPLETED');
      expect(exp.trials).toHaveLength(4);
      expect(new Set(exp.trials.map((t) => t.requestId)).size).toBe(4);
      for (const t of exp.trials) expect(t.state).toBe('COMPLETED');

      // Never more than 2 trials ran at once: their allocations' lifetimes overlap at most pairwise.
      const agents = await api<any[]>(master.url, 'GET', '/agents');
      expect(agents.body.map((a) => a.id)).toContain(`agent-${backend}`);

      for (const t of exp.trials) {
        const vals = await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${t.id}/metrics?group=validation&raw=true`);
        expect(vals.body.points.length).toBeGreaterThan(0);
        const final = vals.body.points[vals.body.points.length - 1]!;
        expect(final.stepsCompleted).toBe(60);
        expect(typeof final.metrics.validation_loss).toBe('number');
        expect(t.bestValidation).not.toBeNull();

        // A checkpoint per trial whose files exist and restore to the reported validation loss.
        const detail = await api<TrialSummary & { checkpoints: CheckpointInfo[] }>(master.url, 'GET', `/trials/${t.id}`);
        expect(detail.body.checkpoints.length).toBeGreaterThan(0);
        const cp = detail.body.checkpoints.find((c) => c.uuid === t.latestCheckpoint)!;
        expect(cp.stepsCompleted).toBe(60);
        const out = tmpDir('cp');
        const res = await fetch(`${master.url}/api/v1/checkpoints/${cp.uuid}/download`, { headers: { authorization: `Bearer ${master.token}` } });
        expect(res.status).toBe(200);
        await pipeline(Readable.fromWeb(res.body as any), tar.x({ cwd: out }));
        for (const [f, size] of Object.entries(cp.resources)) expect(fs.statSync(path.join(out, f)).size).toBe(size);

        const ctx = makeTrialContext({
          hparams: t.hparams,
          info: { seed: t.seed },
          config: exp.config,
          distributed: { rank: 0, size: 1, localRank: 0 },
          log: () => undefined,
        } as any);
        const def = await createTrial(ctx);
        const model = typeof def.model === 'function' ? await def.model() : def.model;
        await restoreCheckpoint(await readDir(out), model, def.optimizer);
        const loss = tf.tidy(() => (tf.losses.meanSquaredError(def.validationData.ys, model.predict(def.validationData.xs) as tf.Tensor) as tf.Tensor).dataSync()[0]!);
        expect(loss).toBeCloseTo(final.metrics.validation_loss!, 3);
      }

      // Logs are retrievable through the API and the CLI.
      const logs = await api<TaskLog[]>(master.url, 'GET', `/trials/${exp.trials[0]!.id}/logs`);
      expect(logs.body.some((l) => l.line.includes('validation'))).toBe(true);
      const cliLogs = await runCli(['-m', master.url, 'trial', 'logs', String(exp.trials[0]!.id), '--tail', '5']);
      expect(cliLogs.code).toBe(0);
      expect(cliLogs.stdout.trim().split('\n')).toHaveLength(5);

      const described = await runCli(['-m', master.url, 'experiment', 'describe', String(id)]);
      expect(described.stdout).toContain('COMPLETED');
      expect(described.stdout).toContain('learning_rate=');
    }, 300_000);

    it.skipIf(backend !== 'pglite')('pauses a training experiment (trial checkpoints and stops) and activates it again to completion', async () => {
      // Long enough (1500 batches) that the pause always lands while the trial trains, however busy the machine.
      const longer = path.join(tmpDir('pause'), 'single.yaml');
      fs.writeFileSync(longer, fs.readFileSync(path.join(ROOT, 'examples/synthetic/single.yaml'), 'utf8').replace('batches: 300', 'batches: 1500'));
      const created = await runCli(['-m', master.url, '--json', 'experiment', 'create', longer, 'examples/synthetic']);
      const id = JSON.parse(created.stdout).id as number;
      const trial = await waitFor('training', async () => {
        const d = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`);
        return d.body.trials[0]?.latestTraining ? d.body.trials[0] : null;
      }, 120_000, 100);
      const paused = await runCli(['-m', master.url, 'experiment', 'pause', String(id)]);
      expect(paused.stdout).toContain('PAUSED');
      // The running trial checkpoints and gives its slot back.
      await waitFor('slot free', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.every((a) => a.slots.every((x: any) => !x.allocationId)), 120_000);
      const mid = await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`);
      expect(mid.body.state).toBe('PAUSED');
      // Its trials show PAUSED too (as in Determined), not ACTIVE.
      expect(mid.body.trials[0]!.state).toBe('PAUSED');
      expect(mid.body.trials[0]!.latestCheckpoint).not.toBeNull();
      const activated = await runCli(['-m', master.url, 'experiment', 'activate', String(id)]);
      expect(activated.stdout).toContain('ACTIVE');
      expect((await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`)).body.trials[0]!.state).not.toBe('PAUSED');
      const done = await waitForExperimentEnd(master.url, id);
      expect(done.state).toBe('COMPLETED');
      const t = done.trials[0]!;
      expect(t.id).toBe(trial.id);
      expect(t.restarts).toBe(0);
      const steps = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${t.id}/metrics?group=training&raw=true`)).body.points.map((p) => p.stepsCompleted);
      expect(new Set(steps).size).toBe(steps.length);
      expect(steps[steps.length - 1]).toBe(1500);
      const logs = await api<TaskLog[]>(master.url, 'GET', `/trials/${t.id}/logs`);
      expect(logs.body.some((l) => l.line.includes('restored'))).toBe(true);
    }, 300_000);

    it.skipIf(backend !== 'pglite')('follows the first trial\'s logs with --follow until the experiment ends', async () => {
      const r = await runCli(['-m', master.url, 'experiment', 'create', 'examples/synthetic/single.yaml', 'examples/synthetic', '--follow']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Created experiment \d+/);
      expect(r.stdout).toContain('validation: steps 300');
      expect(r.stdout).toMatch(/Experiment \d+ ended: COMPLETED/);
    }, 300_000);
  });
}

void ROOT;
void ({} as ExperimentDetail);
