// Experiment management repositories: projects, experiment edits and list filters, the model registry (and its
// exemption from checkpoint GC), the runs view, filtered logs, and the reproducibility record.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { insertCheckpoint, listCollectable } from '../../master/src/db/checkpoints';
import { editExperiment, getContextDigest, getExperimentDetail, getExperimentSummary, insertExperiment, listExperiments } from '../../master/src/db/experiments';
import { insertLogs, queryLogs } from '../../master/src/db/logs';
import { insertMetrics } from '../../master/src/db/metrics';
import { getModel, getModelVersion, insertModel, insertModelVersion, listModels, listModelVersions } from '../../master/src/db/models';
import { getProject, insertProject, listProjects, projectId } from '../../master/src/db/projects';
import { listRuns } from '../../master/src/db/runs';
import { completeReproducibility, getTrialLaunchInfo, getTrialProvenance, recordReproducibility } from '../../master/src/db/trials';
import { describeBoth } from './both';
import { addExperiment, addTrial, experimentConfig, LOSS, point } from './fixtures';

const uniq = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
const list = { sort: 'id' as const, order: 'asc' as const, offset: 0, limit: 100 };

describeBoth('experiment management repositories', (t) => {
  it('has a default project; a new project is owned by its creator, a taken name is refused, and counts follow experiments', async () => {
    expect(await getProject(t.db, 'default')).toMatchObject({ name: 'default', numExperiments: 0 });
    const name = uniq('vision');
    const p = await insertProject(t.db, { name, description: 'image models', owner: 'alice' });
    expect(p).toMatchObject({ name, description: 'image models', owner: 'alice', numExperiments: 0, lastExperimentStartedAt: null });
    expect(await insertProject(t.db, { name, description: '', owner: 'bob' })).toBeNull();
    const pid = (await projectId(t.db, name))!;
    await addExperiment(t.db);
    const config = experimentConfig();
    await insertExperiment(t.db, { config, configYaml: '', state: 'ACTIVE', owner: 'alice', context: null, projectId: pid });
    expect(await getProject(t.db, name)).toMatchObject({ numExperiments: 1, numActiveExperiments: 1 });
    expect((await listProjects(t.db)).map((x) => x.name)).toContain(name);
    const inProject = await listExperiments(t.db, { ...list, projectId: pid });
    expect(inProject.items.map((e) => e.project)).toEqual([name]);
  });

  it('edits name, description, notes and labels (the stored config follows), and archived experiments leave the default list', async () => {
    const a = await addExperiment(t.db, { config: { description: 'first try' } });
    const b = await addExperiment(t.db);
    expect(await getExperimentSummary(t.db, a)).toMatchObject({ description: 'first try', project: 'default', archived: false, forkedFrom: null });
    await editExperiment(t.db, a, { name: 'renamed', description: 'better', notes: '# Notes\nlr too high', labels: ['x', 'y'] });
    const d = (await getExperimentDetail(t.db, a))!;
    expect(d).toMatchObject({ name: 'renamed', description: 'better', notes: '# Notes\nlr too high', labels: ['x', 'y'] });
    expect(d.config).toMatchObject({ name: 'renamed', description: 'better', labels: ['x', 'y'] });
    expect((await listExperiments(t.db, { ...list, label: 'y' })).items.map((e) => e.id)).toEqual([a]);

    await editExperiment(t.db, a, { archived: true });
    expect((await listExperiments(t.db, list)).items.map((e) => e.id)).toEqual([b]);
    expect((await listExperiments(t.db, { ...list, archived: true })).items.map((e) => e.id)).toEqual([a]);
    expect((await listExperiments(t.db, { ...list, archived: 'all' })).total).toBe(2);
  });

  it('numbers model versions, copies the source trial and its metrics at the checkpoint, and exempts registered checkpoints from GC', async () => {
    const exp = await addExperiment(t.db);
    const trial = await addTrial(t.db, exp, { hparams: { lr: 0.05 } });
    await insertMetrics(t.db, trial, 'validation', [point(100, { loss: 0.5 }), point(200, { loss: 0.3 })], LOSS);
    await insertMetrics(t.db, trial, 'training', [point(90, { loss: 0.7 }), point(190, { loss: 0.4 })], LOSS);
    const cps = [randomUUID(), randomUUID()];
    for (const [i, uuid] of cps.entries()) {
      await insertCheckpoint(t.db, {
        uuid, trialId: trial, experimentId: exp, allocationId: 'a', stepsCompleted: (i + 1) * 100,
        storage: { type: 'master', save_experiment_best: 0, save_trial_best: 0, save_trial_latest: 0 }, resources: { f: 1 }, metadata: {},
      });
    }
    const name = uniq('mnist-cnn');
    expect(await insertModel(t.db, { name, description: 'digits', owner: 'alice', labels: ['prod'] })).toMatchObject({ name, numVersions: 0, latestVersion: null });
    expect(await insertModel(t.db, { name, description: '', owner: 'bob', labels: [] })).toBeNull();
    const v1 = await t.db.transaction((tx) => insertModelVersion(tx, name, cps[1]!, 'alice', 'best so far'));
    expect(v1).toMatchObject({
      model: name, version: 1, checkpointUuid: cps[1], registeredBy: 'alice', notes: 'best so far', trialId: trial, experimentId: exp,
      hparams: { lr: 0.05 }, stepsCompleted: 200, validationMetrics: { loss: 0.3 }, trainingMetrics: { loss: 0.4 }, checkpointState: 'COMPLETED',
    });
    const v2 = await t.db.transaction((tx) => insertModelVersion(tx, name, cps[0]!, 'bob', ''));
    expect(v2).toMatchObject({ version: 2, stepsCompleted: 100, validationMetrics: { loss: 0.5 }, trainingMetrics: { loss: 0.7 } });
    expect(await t.db.transaction((tx) => insertModelVersion(tx, name, randomUUID(), 'bob', ''))).toBeNull();
    expect((await listModelVersions(t.db, name)).map((v) => v.version)).toEqual([2, 1]);
    expect(await getModel(t.db, name)).toMatchObject({ numVersions: 2, latestVersion: 2 });
    expect(await getModelVersion(t.db, name, 1)).toEqual(v1);
    expect((await listModels(t.db, { name: name.slice(0, 12), offset: 0, limit: 10 })).items.map((m) => m.name)).toContain(name);

    const other = randomUUID();
    await insertCheckpoint(t.db, { uuid: other, trialId: trial, experimentId: exp, allocationId: 'a', stepsCompleted: 300, storage: { type: 'master', save_experiment_best: 0, save_trial_best: 0, save_trial_latest: 0 }, resources: {}, metadata: {} });
    const collectable = await listCollectable(t.db, exp);
    expect(Object.fromEntries(collectable.map((c) => [c.uuid, c.registered]))).toEqual({ [cps[0]!]: true, [cps[1]!]: true, [other]: false });
  });

  it('lists runs across experiments in one query: filters by project, state, hyperparameter and metric ranges, sorts by a hyperparameter, pages', async () => {
    const pname = uniq('runs');
    const pid = (await insertProject(t.db, { name: pname, description: '', owner: 'alice' }))!.id;
    const e1 = await insertExperiment(t.db, { config: experimentConfig(), configYaml: '', state: 'ACTIVE', owner: 'alice', context: null, projectId: pid });
    const e2 = await addExperiment(t.db);
    const ids: number[] = [];
    for (const [i, lr] of [0.1, 0.01, 0.001].entries()) {
      const id = await addTrial(t.db, e1, { hparams: { lr, opt: { name: i === 0 ? 'adam' : 'sgd' } } });
      await insertMetrics(t.db, id, 'validation', [point(10, { loss: 1 - i * 0.3 })], LOSS);
      ids.push(id);
    }
    const outside = await addTrial(t.db, e2, { hparams: { lr: 0.05 } });
    const base = { archived: false as const, sort: { key: 'id' as const }, order: 'asc' as const, offset: 0, limit: 100 };
    expect((await listRuns(t.db, base)).items.map((r) => r.id)).toEqual([...ids, outside]);
    const inProject = await listRuns(t.db, { ...base, projectId: pid });
    expect(inProject.items.map((r) => r.id)).toEqual(ids);
    expect(inProject.items[0]).toMatchObject({ experimentName: 'mnist', project: pname, user: 'alice', archived: false, metric: 'loss', smallerIsBetter: true });
    expect((await listRuns(t.db, { ...base, hp: [{ name: 'lr', min: 0.005, max: 0.2 }] })).items.map((r) => r.id)).toEqual([ids[0], ids[1], outside]);
    expect((await listRuns(t.db, { ...base, hp: [{ name: 'opt.name', equals: 'sgd' }] })).items.map((r) => r.id)).toEqual([ids[1], ids[2]]);
    expect((await listRuns(t.db, { ...base, metric: [{ name: 'loss', max: 0.8 }] })).items.map((r) => r.id)).toEqual([ids[1], ids[2]]);
    expect((await listRuns(t.db, { ...base, sort: { hp: 'lr' } })).items.map((r) => r.id)).toEqual([ids[2], ids[1], outside, ids[0]]);
    expect((await listRuns(t.db, { ...base, sort: { metric: 'loss' }, order: 'desc' })).items.map((r) => r.id)).toEqual([ids[0], ids[1], ids[2], outside]);
    const page = await listRuns(t.db, { ...base, offset: 1, limit: 2 });
    expect([page.total, page.items.map((r) => r.id)]).toEqual([4, [ids[1], ids[2]]]);
    expect((await listRuns(t.db, { ...base, offset: 10, limit: 2 })).total).toBe(4);
    expect((await listRuns(t.db, { ...base, states: ['COMPLETED'] })).total).toBe(0);
    await editExperiment(t.db, e2, { archived: true });
    expect((await listRuns(t.db, base)).total).toBe(3);
    expect((await listRuns(t.db, { ...base, archived: 'all' })).total).toBe(4);
  });

  it("filters an experiment's logs by trial, rank, minimum level, regular expression and time", async () => {
    const exp = await addExperiment(t.db);
    const [a, b] = [await addTrial(t.db, exp), await addTrial(t.db, exp)];
    const line = (rank: number, level: string, text: string, ts: string | null = null) => ({ allocationId: null, agentId: null, rank, stream: 'stdout', level, ts, line: text });
    await insertLogs(t.db, a, [line(0, 'INFO', 'epoch 1 loss=0.5', '2020-01-01T00:00:00Z'), line(1, 'WARN', 'slow batch'), line(0, 'ERROR', 'NaN loss')]);
    await insertLogs(t.db, b, [line(0, 'DEBUG', 'epoch 1 loss=0.7'), line(0, 'INFO', 'done')]);
    const lines = async (f: Partial<Parameters<typeof queryLogs>[1]>) => (await queryLogs(t.db, { experimentId: exp, limit: 100, ...f })).map((l) => l.line);
    expect(await lines({})).toEqual(['epoch 1 loss=0.5', 'slow batch', 'NaN loss', 'epoch 1 loss=0.7', 'done']);
    expect(await lines({ trialId: b })).toEqual(['epoch 1 loss=0.7', 'done']);
    expect(await lines({ rank: 1 })).toEqual(['slow batch']);
    expect(await lines({ level: 'WARN' })).toEqual(['slow batch', 'NaN loss']);
    expect(await lines({ grep: 'loss=0\\.[0-9]' })).toEqual(['epoch 1 loss=0.5', 'epoch 1 loss=0.7']);
    expect(await lines({ since: new Date('2021-01-01T00:00:00Z') })).toEqual(['slow batch', 'NaN loss', 'epoch 1 loss=0.7', 'done']);
    expect(await lines({ tail: 2 })).toEqual(['epoch 1 loss=0.7', 'done']);
    await expect(queryLogs(t.db, { experimentId: exp, limit: 10, grep: '(' })).rejects.toMatchObject({ code: '2201B' });
  });

  it('keeps the reproducibility record and the warm-start checkpoint of a trial, and the digest of the model directory', async () => {
    const context = Buffer.from('model directory bytes');
    const src = await addExperiment(t.db, { context });
    const srcTrial = await addTrial(t.db, src);
    const uuid = randomUUID();
    await insertCheckpoint(t.db, { uuid, trialId: srcTrial, experimentId: src, allocationId: 'a', stepsCompleted: 50, storage: { type: 'master', save_experiment_best: 0, save_trial_best: 0, save_trial_latest: 0 }, resources: {}, metadata: {} });
    const { createHash } = await import('node:crypto');
    expect(await getContextDigest(t.db, src)).toBe(createHash('sha256').update(context).digest('hex'));
    const warm = await insertExperiment(t.db, { config: experimentConfig(), configYaml: '', state: 'ACTIVE', owner: 'admin', context: null, sourceTrialId: srcTrial, sourceCheckpointUuid: uuid, forkedFrom: src });
    expect(await getExperimentSummary(t.db, warm)).toMatchObject({ forkedFrom: src, sourceTrialId: srcTrial });
    const trial = await addTrial(t.db, warm);
    expect(await getTrialLaunchInfo(t.db, trial)).toMatchObject({ latestCheckpoint: null, sourceCheckpoint: uuid });
    const record = {
      contextDigest: null, configYaml: 'name: x\n', seed: 7, hparams: { lr: 0.1 }, placement: [{ agentId: 'a1', devices: [0] }],
      devices: [{ agentId: 'a1', id: 0, type: 'cpu' as const, brand: 'x86' }], harnessVersion: null, tfjsVersion: null, backend: null, nodeVersion: null,
      allocationId: 'alloc-1', recordedAt: new Date().toISOString(),
    };
    await recordReproducibility(t.db, trial, record);
    await completeReproducibility(t.db, trial, 'other-alloc', { backend: 'wrong' });
    await completeReproducibility(t.db, trial, 'alloc-1', { harnessVersion: '0.1.0', tfjsVersion: '4.22.0', backend: 'wasm', nodeVersion: 'v20' });
    expect(await getTrialProvenance(t.db, trial)).toEqual({
      reproducibility: { ...record, harnessVersion: '0.1.0', tfjsVersion: '4.22.0', backend: 'wasm', nodeVersion: 'v20' },
      sourceCheckpointUuid: uuid,
      sourceTrialId: srcTrial,
    });
  });
});
