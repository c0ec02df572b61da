import { expect, it } from 'vitest';
import { experimentMetricSeries, insertMetrics, trialMetricPoints } from '../../master/src/db/metrics';
import { getTrialSummary } from '../../master/src/db/trials';
import { describeBoth } from './both';
import { addExperiment, addExperimentWithTrial, addTrial, LOSS, point as pt } from './fixtures';

const ACCURACY = { metric: 'accuracy', smallerIsBetter: false };

describeBoth('metrics repository', (t) => {
  const summary = async (trialId: number) => (await getTrialSummary(t.db, trialId))!;
  // The trial's batch count is kept for the UI; no repository reads it back, so the test looks at the row.
  const totalBatches = async (trialId: number) =>
    (await t.db.query<{ n: number }>('SELECT total_batches AS n FROM trials WHERE id = $1', [trialId])).rows[0]!.n;

  it('folds a training batch into the trial: the latest point by steps, and the batch count', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, trialId, 'training', [pt(20, { loss: 0.8, lr: 0.1 }), pt(10, { loss: 0.9, lr: 0.1 })], LOSS);
    expect(await summary(trialId)).toMatchObject({ latestTraining: { loss: 0.8, lr: 0.1 }, latestValidation: null, bestValidation: null });
    expect(await totalBatches(trialId)).toBe(20);
    await insertMetrics(t.db, trialId, 'training', [pt(30, { loss: 0.7 }), pt(40, { loss: 0.6 })], LOSS);
    expect((await summary(trialId)).latestTraining).toEqual({ loss: 0.6 });
    expect(await totalBatches(trialId)).toBe(40);
    // A trial that restarted from an earlier checkpoint reports lower steps again; the count never goes down.
    await insertMetrics(t.db, trialId, 'training', [pt(35, { loss: 0.65 })], LOSS);
    expect(await totalBatches(trialId)).toBe(40);
    expect(await trialMetricPoints(t.db, trialId, 'training')).toHaveLength(5);
  });

  it('ignores an empty batch', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, trialId, 'training', [], LOSS);
    await insertMetrics(t.db, trialId, 'validation', [], LOSS);
    expect(await summary(trialId)).toMatchObject({ latestTraining: null, latestValidation: null });
    expect(await totalBatches(trialId)).toBe(0);
  });

  it('keeps the best validation when smaller is better, across batches, ignoring points without the metric', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, trialId, 'validation', [pt(10, { loss: 0.5 }), pt(20, { loss: 0.4, accuracy: 0.6 })], LOSS);
    expect(await summary(trialId)).toMatchObject({ bestValidation: 0.4, latestValidation: { loss: 0.4, accuracy: 0.6 } });
    await insertMetrics(t.db, trialId, 'validation', [pt(30, { loss: 0.6 })], LOSS);
    expect(await summary(trialId)).toMatchObject({ bestValidation: 0.4, latestValidation: { loss: 0.6 } });
    await insertMetrics(t.db, trialId, 'validation', [pt(40, { accuracy: 0.9 })], LOSS);
    expect(await summary(trialId)).toMatchObject({ bestValidation: 0.4, latestValidation: { accuracy: 0.9 } });
    await insertMetrics(t.db, trialId, 'validation', [pt(50, { accuracy: 0.1 }), pt(60, { loss: 0.2 }), pt(70, { accuracy: 0.95 })], LOSS);
    expect((await summary(trialId)).bestValidation).toBe(0.2);
    // Training points never move the validation summary.
    await insertMetrics(t.db, trialId, 'training', [pt(80, { loss: 0.01 })], LOSS);
    expect(await summary(trialId)).toMatchObject({ bestValidation: 0.2, latestValidation: { accuracy: 0.95 } });
  });

  it('keeps the best validation when larger is better', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, trialId, 'validation', [pt(10, { loss: 1 })], ACCURACY);
    expect((await summary(trialId)).bestValidation).toBeNull();
    await insertMetrics(t.db, trialId, 'validation', [pt(20, { accuracy: 0.7 }), pt(30, { accuracy: 0.6 })], ACCURACY);
    expect((await summary(trialId)).bestValidation).toBe(0.7);
    await insertMetrics(t.db, trialId, 'validation', [pt(40, { accuracy: 0.65 })], ACCURACY);
    expect((await summary(trialId)).bestValidation).toBe(0.7);
    await insertMetrics(t.db, trialId, 'validation', [pt(50, { accuracy: 0.9 })], ACCURACY);
    expect((await summary(trialId)).bestValidation).toBe(0.9);
  });

  it("gives one series per trial of the experiment, in step order, with only the points that carry the metric", async () => {
    const exp = await addExperiment(t.db);
    const [a, b] = [await addTrial(t.db, exp), await addTrial(t.db, exp)];
    const silent = await addTrial(t.db, exp);
    await insertMetrics(t.db, b, 'training', [pt(20, { loss: 0.5 }), pt(10, { loss: 0.6 })], LOSS);
    await insertMetrics(t.db, a, 'training', [pt(30, { loss: 0.3 }), pt(10, { loss: 0.9 })], LOSS);
    await insertMetrics(t.db, a, 'training', [pt(20, { loss: 0.7 }), pt(40, { other: 1 })], LOSS);
    await insertMetrics(t.db, a, 'validation', [pt(30, { loss: 0.35 })], LOSS);
    await insertMetrics(t.db, silent, 'training', [pt(10, { other: 2 })], LOSS);
    const elsewhere = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, elsewhere.trialId, 'training', [pt(10, { loss: 5 })], LOSS);

    expect(await experimentMetricSeries(t.db, exp, 'training', 'loss')).toEqual([
      { trialId: a, points: [[10, 0.9], [20, 0.7], [30, 0.3]] },
      { trialId: b, points: [[10, 0.6], [20, 0.5]] },
    ]);
    expect(await experimentMetricSeries(t.db, exp, 'validation', 'loss')).toEqual([{ trialId: a, points: [[30, 0.35]] }]);
    expect(await experimentMetricSeries(t.db, exp, 'training', 'missing')).toEqual([]);
  });

  it("returns every point of one trial's group in step order, with its report time", async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, trialId, 'validation', [pt(200, { loss: 0.2 }), pt(100, { loss: 0.3, accuracy: 0.8 })], LOSS);
    await insertMetrics(t.db, trialId, 'training', [pt(150, { loss: 0.25 })], LOSS);
    const points = await trialMetricPoints(t.db, trialId, 'validation');
    expect(points.map(({ stepsCompleted, metrics }) => ({ stepsCompleted, metrics }))).toEqual([pt(100, { loss: 0.3, accuracy: 0.8 }), pt(200, { loss: 0.2 })]);
    for (const p of points) {
      expect(p.reportedAt).toBeInstanceOf(Date);
      expect(Math.abs(p.reportedAt.getTime() - Date.now())).toBeLessThan(60_000);
    }
    expect(await trialMetricPoints(t.db, trialId + 1000, 'validation')).toEqual([]);
  });
});
