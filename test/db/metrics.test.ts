import { expect, it } from 'vitest';
import { experimentMetricSeries, insertMetrics, supersedeAfter, trialMetricBuckets, trialMetricExtent, trialMetricPage, trialMetricPoints } from '../../master/src/db/metrics';
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

  it('stores a batch sent again once, leaves the summary alone, and takes the step again from a resumed run', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    const batch = [pt(10, { loss: 0.9 }), pt(20, { loss: 0.8 })];
    await insertMetrics(t.db, trialId, 'training', batch, LOSS);
    await insertMetrics(t.db, trialId, 'validation', [pt(20, { loss: 0.7 })], LOSS);
    // The answers were lost; the harness sends both again.
    await insertMetrics(t.db, trialId, 'training', batch, LOSS);
    await insertMetrics(t.db, trialId, 'validation', [pt(20, { loss: 0.7 })], LOSS);
    expect((await trialMetricPoints(t.db, trialId, 'training')).map((p) => p.stepsCompleted)).toEqual([10, 20]);
    expect((await trialMetricPoints(t.db, trialId, 'validation')).map((p) => p.metrics)).toEqual([{ loss: 0.7 }]);
    expect(await summary(trialId)).toMatchObject({ latestValidation: { loss: 0.7 }, bestValidation: 0.7 });
    expect(await totalBatches(trialId)).toBe(20);
    // A batch that overlaps, and another metric at a stored step (also twice within one batch): one point per step.
    await insertMetrics(t.db, trialId, 'training', [pt(20, { loss: 0.8 }), pt(30, { loss: 0.6 }), pt(30, { lr: 0.01 })], LOSS);
    await insertMetrics(t.db, trialId, 'training', [pt(10, { lr: 0.1 })], LOSS);
    expect((await trialMetricPoints(t.db, trialId, 'training')).map((p) => [p.stepsCompleted, p.metrics])).toEqual([
      [10, { loss: 0.9, lr: 0.1 }],
      [20, { loss: 0.8 }],
      [30, { loss: 0.6, lr: 0.01 }],
    ]);
    // A run resumed from the checkpoint at step 10 trains 20 and 30 again: its values replace the earlier run's.
    await supersedeAfter(t.db, trialId, 10);
    await insertMetrics(t.db, trialId, 'training', [pt(20, { loss: 0.75 }), pt(30, { loss: 0.55 })], LOSS);
    expect((await trialMetricPoints(t.db, trialId, 'training')).map((p) => [p.stepsCompleted, p.metrics.loss])).toEqual([[10, 0.9], [20, 0.75], [30, 0.55]]);
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

  it('reads a large group page by page: every point once, in step order, superseded ones left out', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, trialId, 'training', Array.from({ length: 25 }, (_, i) => pt(i + 1, { loss: 1 / (i + 1) })), LOSS);
    // A point at a step already stored (a harness that sent a batch again) is merged into it, not stored twice.
    await insertMetrics(t.db, trialId, 'training', [pt(10, { loss: 0.5 })], LOSS);
    await supersedeAfter(t.db, trialId, 20);
    const steps: number[] = [];
    let cursor: { step: number; id: number } | undefined;
    let pages = 0;
    do {
      const page = await trialMetricPage(t.db, trialId, 'training', 7, cursor);
      expect(page.points.length).toBeLessThanOrEqual(7);
      steps.push(...page.points.map((p) => p.stepsCompleted));
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(pages).toBe(3);
    expect(await trialMetricExtent(t.db, trialId, 'training')).toEqual({ count: 20, minStep: 1, maxStep: 20 });
  });

  it('summarises a group by step buckets: first, last, lowest and highest point of each metric per bucket', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    // 100 steps of a slowly falling loss with one spike at step 37 and a dip at step 71; `acc` only on even steps.
    const loss = (s: number) => (s === 37 ? 9 : s === 71 ? -1 : 1 - s / 1000);
    await insertMetrics(
      t.db,
      trialId,
      'training',
      Array.from({ length: 100 }, (_, i) => pt(i + 1, { loss: loss(i + 1), ...((i + 1) % 2 === 0 ? { acc: (i + 1) / 100 } : {}) })),
      LOSS,
    );
    const extent = await trialMetricExtent(t.db, trialId, 'training');
    const series = await trialMetricBuckets(t.db, trialId, 'training', extent, 5);
    expect(Object.keys(series).sort()).toEqual(['acc', 'loss']);
    expect(series.loss!.length).toBeLessThanOrEqual(20);
    expect(series.loss).toContainEqual([37, 9]);
    expect(series.loss).toContainEqual([71, -1]);
    expect(series.loss![0]).toEqual([1, loss(1)]);
    expect(series.loss![series.loss!.length - 1]).toEqual([100, loss(100)]);
    const steps = series.loss!.map(([s]) => s);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(series.acc![0]).toEqual([2, 0.02]);
    // A metric reported only mid-run, and one that is not a number, as a training loop may report them.
    await insertMetrics(t.db, trialId, 'training', [pt(50, { warmup_done: 1, phase: 'b' as unknown as number })], LOSS);
    const again = await trialMetricBuckets(t.db, trialId, 'training', await trialMetricExtent(t.db, trialId, 'training'), 5);
    expect(again.warmup_done).toEqual([[50, 1]]);
    expect(again.phase).toBeUndefined();
    expect(await trialMetricBuckets(t.db, trialId, 'validation', extent, 5)).toEqual({});
    expect(series.acc![series.acc!.length - 1]).toEqual([100, 1]);
  });
});
