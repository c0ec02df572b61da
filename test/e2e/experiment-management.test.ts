// Experiment management against a real master and a 1-slot agent, through the CLI (every verb, --json) and the
// API: projects, fork / continue / warm start (the new trial's first step follows the source's last), archive and
// editing, trial kill, wait, filtered logs, the model registry (GC keeps registered checkpoints), compare, runs,
// the reproducibility record and the model directory download.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, ExperimentSummary, ModelDetail, TrialComparison, TrialDetail } from '@hone/protocol/api';
import { buildCli, hone } from '../../cli/test/hone';
import { api, startAgentProcess, startMasterProcess, TEST_ADMIN_PASSWORD, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';

/**
 * A core API model with no TensorFlow: it counts steps, reports a training point per step, checkpoints its step
 * count at the end of each operation and resumes from a checkpoint. With a gate file it checkpoints at step 2 and
 * at the operation's end, then waits for the gate (to be killed, or released).
 */
function countingModel(gate?: string): string {
  const dir = tmpDir('mgmt-model');
  fs.writeFileSync(
    path.join(dir, 'train.ts'),
    `import type { CoreContext } from '@hone/harness';
import fs from 'node:fs';
export default async function train(core: CoreContext): Promise<void> {
  let steps = 0;
  const save = () => core.checkpoint.store({ 'state.json': new TextEncoder().encode(JSON.stringify({ steps })) }, steps);
  if (core.checkpoint.latest) {
    const files = await core.checkpoint.restore();
    steps = JSON.parse(new TextDecoder().decode(files['state.json'])).steps;
    core.log('resumed at step ' + steps);
  }
  for await (const op of core.searcher.operations()) {
    while (steps < op.length) {
      steps += 1;
      core.train.reportTrainingMetrics(steps, { loss: 1 / steps });
      ${gate ? 'if (steps === 2) { await core.train.flush(); await save(); }' : ''}
    }
    await core.train.flush();
    await save();
    ${gate ? `while (!fs.existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 100));` : ''}
    await core.train.reportValidationMetrics(steps, { validation_loss: 1 / steps, lr: Number(core.hparams.lr) });
    core.log('validated at step ' + steps);
    await op.reportCompleted(1 / steps);
  }
}
`,
  );
  return dir;
}

function file(name: string, text: string): string {
  const f = path.join(tmpDir('mgmt-config'), name);
  fs.writeFileSync(f, text);
  return f;
}

const config = (name: string, extra = '') =>
  file(`${name}.yaml`, `name: ${name}\nentrypoint: train.ts\nhyperparameters:\n  lr: 0.1\nsearcher:\n  name: single\n  metric: validation_loss\n  max_length:\n    batches: 4\n${extra}`);

describe('experiment management', () => {
  let master: MasterProc;
  let agent: Proc;
  let m: string[];
  const dir = countingModel();

  /** `hone --json ...`: parsed stdout, failing the test on a non-zero exit. */
  async function json<T = any>(...args: string[]): Promise<T> {
    const r = await hone([...m, '--json', ...args]);
    if (r.code !== 0) throw new Error(`hone ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }
  const trainingSteps = async (trialId: number) =>
    (await api<{ points: Array<{ stepsCompleted: number }> }>(master.url, 'GET', `/trials/${trialId}/metrics?group=training&raw=true`)).body.points.map((p) => p.stepsCompleted);
  const detail = async (id: number) => (await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`)).body;

  let source: { experimentId: number; trialId: number };

  beforeAll(async () => {
    buildCli();
    const dataDir = tmpDir('mgmt-e2e');
    master = await startMasterProcess({ dataDir });
    agent = startAgentProcess({ masterUrl: master.url, id: 'mgmt-agent', slots: 1, workDir: path.join(dataDir, 'work') });
    m = ['-m', master.url];
    const login = await hone([...m, 'user', 'login', 'admin', '--password-stdin'], { input: `${TEST_ADMIN_PASSWORD}\n` });
    expect(login.code).toBe(0);
    await waitFor('agent', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.some((a) => a.state === 'CONNECTED'));
  }, 120_000);

  afterAll(async () => {
    await agent?.kill();
    await master?.kill();
  });

  it('puts experiments in projects, waits for them by exit status, and records what each trial ran with', async () => {
    const p = await json('project', 'create', 'vision', '--description', 'image models');
    expect(p).toMatchObject({ name: 'vision', owner: 'admin', description: 'image models', numExperiments: 0 });
    const dup = await hone([...m, 'project', 'create', 'vision']);
    expect([dup.code, dup.stderr]).toEqual([1, expect.stringContaining('already exists')]);
    expect((await api(master.url, 'POST', '/projects', { name: '-bad' })).status).toBe(400);
    const missing = await hone([...m, 'experiment', 'create', config('nowhere', 'project: nowhere\n'), dir]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining('no project named "nowhere"')]);

    const exp = await json<ExperimentSummary>('experiment', 'create', config('counting'), dir, '--project', 'vision');
    expect(exp.project).toBe('vision');
    const wait = await hone([...m, 'experiment', 'wait', String(exp.id), '--interval', '0.5']);
    expect([wait.code, wait.stdout.trim()]).toEqual([0, `Experiment ${exp.id}: COMPLETED`]);
    const d = await detail(exp.id);
    source = { experimentId: exp.id, trialId: d.trials[0]!.id };
    expect(await trainingSteps(source.trialId)).toEqual([1, 2, 3, 4]);

    expect((await json<any[]>('project', 'list')).find((x) => x.name === 'vision')).toMatchObject({ numExperiments: 1 });
    expect((await json('project', 'describe', 'vision')).experiments.map((e: ExperimentSummary) => e.id)).toEqual([exp.id]);
    expect((await json<ExperimentSummary[]>('experiment', 'list', '--project', 'vision')).map((e) => e.id)).toEqual([exp.id]);

    // The reproducibility record: digest of the model directory as stored, config, seed, harness, devices.
    const t = await json<TrialDetail>('trial', 'describe', String(source.trialId));
    const r = t.reproducibility!;
    expect(r).toMatchObject({ seed: t.seed, hparams: { lr: 0.1 }, backend: expect.any(String), tfjsVersion: expect.stringMatching(/^\d+\./), harnessVersion: '0.1.0' });
    expect(r.configYaml).toContain('name: counting');
    expect(r.placement).toEqual([{ agentId: 'mgmt-agent', devices: [0] }]);
    expect(r.devices[0]).toMatchObject({ agentId: 'mgmt-agent', type: 'cpu' });
    const text = await hone([...m, 'trial', 'describe', String(source.trialId)]);
    expect(text.stdout).toContain(`Model directory: sha256:${r.contextDigest}`);

    // download-model-def writes the exact directory back out; its archive is the one the digest names.
    const out = tmpDir('mgmt-model-def');
    const dl = await json('experiment', 'download-model-def', String(exp.id), '-o', out);
    expect(dl.sha256).toBe(r.contextDigest);
    expect(fs.readFileSync(path.join(out, 'train.ts'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'train.ts'), 'utf8'));
  }, 240_000);

  it('continues an ended trial and warm-starts a fork from its checkpoint: the first step follows the source\'s last', async () => {
    const cont = await json<ExperimentSummary>('trial', 'continue', String(source.trialId), '--length', '7');
    expect(cont).toMatchObject({ sourceTrialId: source.trialId, project: 'vision', searcher: 'single' });
    expect((await hone([...m, 'experiment', 'wait', String(cont.id), '--interval', '0.5'])).code).toBe(0);
    const contTrial = (await detail(cont.id)).trials[0]!;
    expect(await trainingSteps(contTrial.id)).toEqual([5, 6, 7]);
    expect(contTrial.hparams).toEqual({ lr: 0.1 });
    const ct = await json<TrialDetail>('trial', 'describe', String(contTrial.id));
    expect(ct).toMatchObject({ sourceTrialId: source.trialId, sourceCheckpointUuid: expect.any(String) });
    const tooShort = await api(master.url, 'POST', `/trials/${source.trialId}/continue`, { length: 3 });
    expect([tooShort.status, tooShort.body.error.message]).toEqual([400, expect.stringMatching(/^length: must be more than the 4 batches/)]);

    // A fork with overrides: warm start named in the config (searcher.source_trial_id), more batches, new lr.
    const overrides = file('overrides.yaml', `searcher:\n  source_trial_id: ${source.trialId}\n  max_length:\n    batches: 6\nhyperparameters:\n  lr: 0.5\n`);
    const fork = await json<ExperimentSummary>('experiment', 'fork', String(source.experimentId), '--config', overrides);
    expect(fork).toMatchObject({ forkedFrom: source.experimentId, sourceTrialId: source.trialId, project: 'vision', name: 'counting' });
    expect((await hone([...m, 'experiment', 'wait', String(fork.id), '--interval', '0.5'])).code).toBe(0);
    const forkTrial = (await detail(fork.id)).trials[0]!;
    expect(await trainingSteps(forkTrial.id)).toEqual([5, 6]);
    expect(forkTrial.hparams).toEqual({ lr: 0.5 });
    // A plain fork (no overrides) trains from scratch, like the original.
    const plain = await json<ExperimentSummary>('experiment', 'fork', String(source.experimentId), '--paused');
    expect([plain.state, plain.forkedFrom, plain.sourceTrialId]).toEqual(['PAUSED', source.experimentId, null]);
    await json('experiment', 'kill', String(plain.id));

    const badUuid = await api(master.url, 'POST', `/experiments/${source.experimentId}/fork`, { config: { searcher: { source_checkpoint_uuid: '00000000-0000-4000-8000-000000000000' } } });
    expect([badUuid.status, badUuid.body.error.message]).toEqual([404, expect.stringContaining('searcher.source_checkpoint_uuid: checkpoint')]);
    expect((await api(master.url, 'POST', '/experiments/99999/fork', {})).status).toBe(404);

    // Compare: hyperparameters with differences marked, final metrics side by side.
    const cmp = await json<TrialComparison>('trial', 'compare', String(source.trialId), String(forkTrial.id));
    expect(cmp).toMatchObject({ hparamNames: ['lr'], differingHparams: ['lr'], metricNames: ['lr', 'validation_loss'] });
    const table = await hone([...m, 'trial', 'compare', String(source.trialId), String(forkTrial.id)]);
    expect(table.stdout).toMatch(/\* lr .*0\.1.*0\.5/);
    expect((await api(master.url, 'GET', `/trials/compare?ids=${source.trialId}`)).status).toBe(400);

    // The runs view: trials across experiments, filtered by project and hyperparameter range, sorted.
    const runs = await api(master.url, 'GET', '/runs?project=vision&hp=lr:0.2:&sort=hp.lr&order=asc');
    expect(runs.body.items.map((x: { id: number }) => x.id)).toEqual([forkTrial.id]);
    const all = await api(master.url, 'GET', '/runs?project=vision&sort=metric.validation_loss&order=asc&state=COMPLETED');
    expect(all.body.items.map((x: { id: number }) => x.id)).toEqual([contTrial.id, forkTrial.id, source.trialId]);
    expect((await api(master.url, 'GET', '/runs?sort=nope')).status).toBe(400);

    // Logs of every trial of an experiment, filtered on the master.
    const logs = await hone([...m, 'experiment', 'logs', String(cont.id), '--grep', 'resumed at step [0-9]+']);
    expect(logs.stdout.trim().split('\n')).toEqual([expect.stringContaining('resumed at step 4')]);
    const jsonLines = (await hone([...m, '--json', 'trial', 'logs', String(contTrial.id), '--grep', 'validated', '--rank', '0', '--since', '1h', '--level', 'INFO'])).stdout;
    expect(jsonLines.trim().split('\n').map((l) => JSON.parse(l).line)).toEqual([expect.stringContaining('validated at step 7')]);
    expect((await hone([...m, 'trial', 'logs', String(contTrial.id), '--rank', '1'])).stdout).toBe('');
    const lines = (await hone([...m, 'trial', 'logs', String(contTrial.id), '--grep', 'validated', '--level', 'TRACE'])).stdout.trim().split('\n');
    expect(lines).toEqual([expect.stringContaining('validated at step 7')]);
    expect((await hone([...m, 'experiment', 'logs', String(cont.id), '--level', 'FATAL'])).stdout).toBe('');
    const oneTrial = await hone([...m, 'experiment', 'logs', String(fork.id), '--trial', String(forkTrial.id), '--grep', 'validated']);
    expect(oneTrial.stdout.trim().split('\n')).toEqual([expect.stringContaining('validated at step 6')]);
    expect((await hone([...m, 'experiment', 'logs', String(fork.id), '--trial', String(contTrial.id)])).stdout).toBe('');
    const badGrep = await hone([...m, 'experiment', 'logs', String(cont.id), '--grep', '(']);
    expect([badGrep.code, badGrep.stderr]).toEqual([1, expect.stringContaining('grep: not a valid regular expression')]);
  }, 300_000);

  it('archives, edits and labels experiments', async () => {
    const id = String(source.experimentId);
    expect((await json<ExperimentSummary>('experiment', 'set', 'name', id, 'baseline')).name).toBe('baseline');
    await json('experiment', 'set', 'description', id, 'the first run');
    await json('experiment', 'set', 'notes', id, `@${file('notes.md', '# Baseline\n\nlr 0.1 is fine.\n')}`);
    await json('experiment', 'label', 'add', id, 'keep');
    expect((await json<ExperimentSummary>('experiment', 'label', 'add', id, 'paper')).labels).toEqual(['keep', 'paper']);
    expect((await json<ExperimentSummary>('experiment', 'label', 'remove', id, 'keep')).labels).toEqual(['paper']);
    const d = await json<ExperimentDetail>('experiment', 'describe', id);
    expect(d).toMatchObject({ name: 'baseline', description: 'the first run', notes: '# Baseline\n\nlr 0.1 is fine.\n', labels: ['paper'] });
    expect((await api(master.url, 'PATCH', `/experiments/${id}`, { notes: 'plain' })).body).toMatchObject({ id: source.experimentId });
    expect((await api(master.url, 'PATCH', `/experiments/${id}`, { labels: [''] })).status).toBe(400);
    expect((await api(master.url, 'DELETE', `/experiments/${id}/labels/absent`)).status).toBe(404);

    expect((await json<ExperimentSummary>('experiment', 'archive', id)).archived).toBe(true);
    expect((await json<ExperimentSummary[]>('experiment', 'list')).map((e) => e.id)).not.toContain(source.experimentId);
    expect((await json<ExperimentSummary[]>('experiment', 'list', '--all')).map((e) => e.id)).toContain(source.experimentId);
    expect((await json<ExperimentSummary[]>('experiment', 'list', '--archived')).map((e) => e.id)).toEqual([source.experimentId]);
    expect((await api(master.url, 'GET', '/runs?archived=true')).body.items.map((r: { id: number }) => r.id)).toEqual([source.trialId]);
    expect((await json<ExperimentSummary>('experiment', 'unarchive', id)).archived).toBe(false);

    // Moving between projects; an unknown one is named in the error.
    expect((await json<ExperimentSummary>('experiment', 'set', 'project', id, 'default')).project).toBe('default');
    const nowhere = await hone([...m, 'experiment', 'set', 'project', id, 'nowhere']);
    expect([nowhere.code, nowhere.stderr]).toEqual([1, expect.stringContaining('project: no project named "nowhere"')]);
    expect((await json<ExperimentSummary>('experiment', 'set', 'project', id, 'vision')).project).toBe('vision');

    // Every new route is in the OpenAPI document.
    const doc = await api<{ paths: Record<string, unknown> }>(master.url, 'GET', '/openapi.json');
    for (const route of ['/api/v1/runs', '/api/v1/trials/compare', '/api/v1/models/{name}/versions', '/api/v1/projects/{name}', '/api/v1/experiments/{id}/fork']) {
      expect(Object.keys(doc.body.paths)).toContain(route);
    }
  }, 60_000);

  it('kills one trial, and GC keeps the checkpoint registered in the model registry while deleting the rest', async () => {
    const gate = path.join(tmpDir('mgmt-gate'), 'go');
    fs.chmodSync(path.dirname(gate), 0o755);
    const gcConfig = config('gc', 'checkpoint_storage:\n  type: master\n  save_experiment_best: 0\n  save_trial_best: 0\n  save_trial_latest: 0\n');
    const exp = await json<ExperimentSummary>('experiment', 'create', gcConfig, countingModel(gate));
    const archiveActive = await api(master.url, 'POST', `/experiments/${exp.id}/archive`);
    expect(archiveActive.status).toBe(409);
    const t = await waitFor('two checkpoints', async () => {
      const x = (await api<TrialDetail>(master.url, 'GET', `/trials/${(await detail(exp.id)).trials[0]?.id ?? 0}`)).body;
      return x?.checkpoints?.length === 2 ? x : null;
    }, 120_000);
    const [early, late] = t.checkpoints;

    const model = await json('model', 'create', 'counter', '--description', 'counts steps', '--label', 'demo');
    expect(model).toMatchObject({ name: 'counter', owner: 'admin', labels: ['demo'], numVersions: 0 });
    expect((await hone([...m, 'model', 'create', 'counter'])).code).toBe(1);
    const v1 = await json('model', 'register', 'counter', early!.uuid, '--notes', 'step 2');
    expect(v1).toMatchObject({ version: 1, checkpointUuid: early!.uuid, registeredBy: 'admin', trialId: t.id, experimentId: exp.id, hparams: { lr: 0.1 }, stepsCompleted: 2, trainingMetrics: { loss: 0.5 } });
    const sourceCp = (await api<TrialDetail>(master.url, 'GET', `/trials/${source.trialId}`)).body.latestCheckpoint!;
    expect((await json('model', 'register', 'counter', sourceCp)).version).toBe(2);
    const missing = await api(master.url, 'POST', '/models/counter/versions', { checkpointUuid: '00000000-0000-4000-8000-000000000000' });
    expect([missing.status, missing.body.error.message]).toEqual([404, expect.stringContaining('checkpointUuid')]);

    const killed = await json('trial', 'kill', String(t.id));
    expect(killed.state).toBe('CANCELED');
    expect((await api(master.url, 'POST', `/trials/${t.id}/kill`)).status).toBe(409);
    const wait = await hone([...m, 'experiment', 'wait', String(exp.id), '--interval', '0.5']);
    expect(wait.code).toBe(0);
    const states = await waitFor('GC', async () => {
      const cps = (await api<TrialDetail>(master.url, 'GET', `/trials/${t.id}`)).body.checkpoints;
      const byUuid = Object.fromEntries(cps.map((c) => [c.uuid, c.state]));
      return byUuid[late!.uuid] === 'DELETED' ? byUuid : null;
    });
    expect(states).toEqual({ [early!.uuid]: 'COMPLETED', [late!.uuid]: 'DELETED' });

    const desc = await json<ModelDetail>('model', 'describe', 'counter');
    expect(desc.versions.map((v) => [v.version, v.checkpointState])).toEqual([[2, 'COMPLETED'], [1, 'COMPLETED']]);
    expect((await json<any[]>('model', 'list')).map((x) => x.name)).toEqual(['counter']);
    const out = tmpDir('mgmt-model-dl');
    await json('model', 'download', 'counter:1', '-o', out);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'))).toEqual({ steps: 2 });
    const latest = await json('model', 'download', 'counter', '-o', tmpDir('mgmt-model-dl2'));
    expect(latest.version).toBe(2);
  }, 240_000);
});
