import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { CheckpointStorageConfig } from '@hone/protocol';
import { getCheckpoint, insertCheckpoint, listCollectable, listTrialCheckpoints, markCheckpointDeleted, type NewCheckpoint } from '../../master/src/db/checkpoints';
import { insertMetrics } from '../../master/src/db/metrics';
import { describeBoth } from './both';
import { addExperimentWithTrial, addTrial, LOSS, point as pt } from './fixtures';

const storage: CheckpointStorageConfig = { type: 'shared_fs', host_path: '/mnt/checkpoints', save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 };

describeBoth('checkpoints repository', (t) => {
  const checkpoint = (trial: { experimentId: number; trialId: number }, stepsCompleted: number, over: Partial<NewCheckpoint> = {}): NewCheckpoint => ({
    uuid: randomUUID(),
    trialId: trial.trialId,
    experimentId: trial.experimentId,
    allocationId: 'alloc-1',
    stepsCompleted,
    storage,
    resources: { 'model.json': 1024, 'weights.bin': 1 << 20 },
    metadata: { framework: 'tfjs', steps: stepsCompleted },
    ...over,
  });

  it('registers a checkpoint once: a repeated registration of the uuid changes nothing', async () => {
    const trial = await addExperimentWithTrial(t.db);
    const c = checkpoint(trial, 100);
    await insertCheckpoint(t.db, c);
    const stored = await getCheckpoint(t.db, c.uuid);
    expect(stored).toEqual({
      uuid: c.uuid, trialId: trial.trialId, experimentId: trial.experimentId, allocationId: 'alloc-1', stepsCompleted: 100, storage,
      resources: c.resources, metadata: c.metadata, state: 'COMPLETED', reportedAt: expect.any(String),
    });
    expect(Math.abs(Date.parse(stored!.reportedAt) - Date.now())).toBeLessThan(60_000);

    await insertCheckpoint(t.db, { ...c, stepsCompleted: 999, metadata: { replayed: true } });
    expect(await getCheckpoint(t.db, c.uuid)).toEqual(stored);
    expect(await listTrialCheckpoints(t.db, trial.trialId)).toHaveLength(1);
    expect(await getCheckpoint(t.db, randomUUID())).toBeNull();
  });

  it("lists a trial's checkpoints in step order with the searcher metric's validation at each step", async () => {
    const trial = await addExperimentWithTrial(t.db);
    const other = { ...trial, trialId: await addTrial(t.db, trial.experimentId) };
    // Two reports at step 200 (a replay after restart): the latest one counts.
    await insertMetrics(t.db, trial.trialId, 'validation', [pt(100, { loss: 0.5, accuracy: 0.1 }), pt(200, { loss: 0.45 })], LOSS);
    await insertMetrics(t.db, trial.trialId, 'validation', [pt(200, { loss: 0.4 }), pt(400, { accuracy: 0.9 })], LOSS);
    await insertMetrics(t.db, trial.trialId, 'training', [pt(300, { loss: 0.01 })], LOSS);
    const [c300, c100, c200, c400] = [checkpoint(trial, 300), checkpoint(trial, 100), checkpoint(trial, 200), checkpoint(trial, 400)];
    for (const c of [c300, c100, c200, c400, checkpoint(other, 100)]) await insertCheckpoint(t.db, c);

    const listed = await listTrialCheckpoints(t.db, trial.trialId);
    expect(listed.map((c) => [c.uuid, c.stepsCompleted, c.validationMetric])).toEqual([
      [c100.uuid, 100, 0.5],
      [c200.uuid, 200, 0.4],
      [c300.uuid, 300, null],
      [c400.uuid, 400, null],
    ]);
    expect(listed[0]).toMatchObject({ trialId: trial.trialId, storage, resources: c100.resources, state: 'COMPLETED' });
  });

  it('offers live checkpoints for collection, with their metric, and not the deleted ones', async () => {
    const trial = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, trial.trialId, 'validation', [pt(100, { loss: 0.5 }), pt(200, { loss: 0.3 })], LOSS);
    const [a, b, c] = [checkpoint(trial, 100), checkpoint(trial, 200), checkpoint(trial, 300)];
    for (const x of [a, b, c]) await insertCheckpoint(t.db, x);
    const elsewhere = await addExperimentWithTrial(t.db);
    await insertCheckpoint(t.db, checkpoint(elsewhere, 100));

    const byUuid = <R extends { uuid: string }>(rows: R[]): R[] => [...rows].sort((x, y) => x.uuid.localeCompare(y.uuid));
    expect(byUuid(await listCollectable(t.db, trial.experimentId))).toEqual(
      byUuid([
        { uuid: a.uuid, trialId: trial.trialId, stepsCompleted: 100, metric: 0.5, storage, registered: false },
        { uuid: b.uuid, trialId: trial.trialId, stepsCompleted: 200, metric: 0.3, storage, registered: false },
        { uuid: c.uuid, trialId: trial.trialId, stepsCompleted: 300, metric: null, storage, registered: false },
      ]),
    );

    await markCheckpointDeleted(t.db, b.uuid);
    expect((await listCollectable(t.db, trial.experimentId)).map((x) => x.uuid).sort()).toEqual([a.uuid, c.uuid].sort());
    expect((await getCheckpoint(t.db, b.uuid))!.state).toBe('DELETED');
    // The row stays, for the record.
    expect((await listTrialCheckpoints(t.db, trial.trialId)).map((x) => x.state)).toEqual(['COMPLETED', 'DELETED', 'COMPLETED']);
  });
});
