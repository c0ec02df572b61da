import { expect, it } from 'vitest';
import type { Database } from '../../master/src/db/database';
import { experimentMetricSeries } from '../../master/src/db/metrics';
import { EventBus } from '../../master/src/events';
import { MetricStore } from '../../master/src/experiments/metricStore';
import { describeBoth } from './both';
import { addExperiment, addTrial, point as pt } from './fixtures';

/** The database, counting the experiment series queries and holding the next one back while `hold` is set. */
function counting(db: Database) {
  const c = { seriesQueries: 0, answered: 0, hold: undefined as Promise<void> | undefined };
  const wrapped: Database = Object.create(db);
  wrapped.query = async <R>(sql: string, params?: unknown[]) => {
    if (sql.includes('array_agg(m.steps_completed')) {
      c.seriesQueries++;
      const r = await db.query<R>(sql, params);
      c.answered++;
      await c.hold;
      return r;
    }
    return db.query<R>(sql, params);
  };
  return { db: wrapped as Database, c };
}

describeBoth('metric store: cached experiment series', (t) => {
  it('folds stored points into the cached series: the same as a fresh read, without reading again', async () => {
    const { db, c } = counting(t.db);
    const store = new MetricStore(db, new EventBus());
    const exp = await addExperiment(t.db);
    const a = await addTrial(t.db, exp);
    await store.store(a, 'validation', [pt(10, { loss: 0.9 }), pt(20, { loss: 0.8 })]);
    expect(await store.experimentSeries(exp, 'validation', 'loss')).toEqual([{ trialId: a, points: [[10, 0.9], [20, 0.8]] }]);
    expect(c.seriesQueries).toBe(1);
    const b = await addTrial(t.db, exp);
    // A new trial, a later step, a step again (the later value wins, as in the database), an earlier step, a
    // point without the metric, and training points (another group).
    await store.store(b, 'validation', [pt(10, { loss: 0.7 }), pt(30, { accuracy: 0.5 })]);
    await store.store(a, 'validation', [pt(30, { loss: 0.6 })]);
    await store.store(a, 'validation', [pt(20, { loss: 0.75, accuracy: 0.4 })]);
    await store.store(a, 'validation', [pt(5, { loss: 1.2 })]);
    await store.store(a, 'training', [pt(40, { loss: 0.1 })]);
    const cached = await store.experimentSeries(exp, 'validation', 'loss');
    expect(c.seriesQueries).toBe(1);
    expect(cached).toEqual(await experimentMetricSeries(t.db, exp, 'validation', 'loss'));
    expect(cached).toEqual([
      { trialId: a, points: [[5, 1.2], [10, 0.9], [20, 0.75], [30, 0.6]] },
      { trialId: b, points: [[10, 0.7]] },
    ]);
    // Another metric of the group is cached apart and folded too.
    await store.experimentSeries(exp, 'validation', 'accuracy');
    await store.store(b, 'validation', [pt(40, { accuracy: 0.6 })]);
    expect(await store.experimentSeries(exp, 'validation', 'accuracy')).toEqual(await experimentMetricSeries(t.db, exp, 'validation', 'accuracy'));
    expect(c.seriesQueries).toBe(2);
  });

  it('reads again after a new run supersedes points', async () => {
    const { db, c } = counting(t.db);
    const store = new MetricStore(db, new EventBus());
    const exp = await addExperiment(t.db);
    const a = await addTrial(t.db, exp);
    await store.store(a, 'validation', [pt(10, { loss: 0.9 }), pt(20, { loss: 0.8 })]);
    await store.experimentSeries(exp, 'validation', 'loss');
    await store.startRunAt(a, exp, 10);
    expect(await store.experimentSeries(exp, 'validation', 'loss')).toEqual([{ trialId: a, points: [[10, 0.9]] }]);
    expect(c.seriesQueries).toBe(2);
  });

  it('does not keep a read that points were stored during (its answer may miss them)', async () => {
    const { db, c } = counting(t.db);
    const store = new MetricStore(db, new EventBus());
    const exp = await addExperiment(t.db);
    const a = await addTrial(t.db, exp);
    await store.store(a, 'validation', [pt(10, { loss: 0.9 })]);
    let release!: () => void;
    c.hold = new Promise((r) => (release = r));
    // The query has answered (without the next point) but its answer is not back yet when the point is stored.
    const reading = store.experimentSeries(exp, 'validation', 'loss');
    while (c.answered === 0) await new Promise((r) => setTimeout(r, 5));
    await store.store(a, 'validation', [pt(20, { loss: 0.8 })]);
    c.hold = undefined;
    release();
    expect(await reading).toEqual([{ trialId: a, points: [[10, 0.9]] }]);
    expect(await store.experimentSeries(exp, 'validation', 'loss')).toEqual([{ trialId: a, points: [[10, 0.9], [20, 0.8]] }]);
    expect(c.seriesQueries).toBe(2);
  });
});
