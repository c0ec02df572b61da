import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import type { ExperimentState } from '@hone/protocol';
import {
  countExperimentsByState,
  experimentExists,
  experimentsWithPendingActions,
  getContext,
  getExperimentConfig,
  getExperimentDetail,
  getExperimentSummary,
  getSearcherMetric,
  listExperiments,
  lockExperiment,
  recordBestMetric,
  saveSearcher,
  setExperimentState,
  setProgress,
  setSchedulingField,
  unfinishedExperimentIds,
  type ExperimentFilter,
} from '../../master/src/db/experiments';
import { endTrial, trialsWantingAllocation } from '../../master/src/db/trials';
import { describeBoth } from './both';
import { addExperiment, addTrial, experimentConfig, rawConfig, searcher } from './fixtures';

const MISSING = 987654321;
const page = (f: Partial<ExperimentFilter> = {}): ExperimentFilter => ({ sort: 'id', order: 'asc', offset: 0, limit: 100, ...f });

describeBoth('experiments repository', (t) => {
  it('reads an inserted experiment back as summary, detail and config, typed columns filled from the config', async () => {
    const raw = rawConfig({
      name: 'cifar',
      searcher: { name: 'adaptive_asha', metric: 'accuracy', smaller_is_better: false, max_trials: 8, max_length: { batches: 500 } },
      resources: { slots_per_trial: 2, resource_pool: 'gpu', priority: 10, weight: 2.5, max_slots: 8 },
      labels: ['vision', 'baseline'],
    });
    const id = await addExperiment(t.db, { config: raw, owner: 'alice' });
    expect(typeof id).toBe('number');

    const s = await getExperimentSummary(t.db, id);
    expect(s).toMatchObject({
      id, name: 'cifar', state: 'ACTIVE', searcher: 'adaptive_asha', metric: 'accuracy', smallerIsBetter: false, resourcePool: 'gpu',
      priority: 10, weight: 2.5, maxSlots: 8, numTrials: 0, trialStates: {}, bestMetric: null, progress: 0, user: 'alice',
      labels: ['vision', 'baseline'], endTime: null,
    });
    expect(Math.abs(Date.parse(s!.startTime) - Date.now())).toBeLessThan(60_000);

    const config = experimentConfig(raw);
    const d = await getExperimentDetail(t.db, id);
    expect(d).toMatchObject({ ...s, config, searcherState: null });
    expect(d!.configYaml).toContain('name: cifar');
    expect(await getExperimentConfig(t.db, id)).toEqual(config);
    expect(await getSearcherMetric(t.db, id)).toEqual({ metric: 'accuracy', smallerIsBetter: false });
    expect(await experimentExists(t.db, id)).toBe(true);

    // slots_per_trial and the pool are what the scheduler reads for each trial.
    const trialId = await addTrial(t.db, id, { target: 100 });
    expect(await trialsWantingAllocation(t.db)).toEqual([{ id: trialId, experimentId: id, slots: 2, pool: 'gpu' }]);
  });

  it('defaults: smaller is better, one slot, pool default, priority 42, no max_slots', async () => {
    const id = await addExperiment(t.db);
    expect(await getExperimentSummary(t.db, id)).toMatchObject({
      searcher: 'random', metric: 'loss', smallerIsBetter: true, resourcePool: 'default', priority: 42, weight: 1, maxSlots: null, labels: [],
    });
    await addTrial(t.db, id, { target: 10 });
    expect((await trialsWantingAllocation(t.db))[0]).toMatchObject({ slots: 1, pool: 'default' });
  });

  it('answers null (or false) for an experiment that does not exist', async () => {
    expect(await getExperimentSummary(t.db, MISSING)).toBeNull();
    expect(await getExperimentDetail(t.db, MISSING)).toBeNull();
    expect(await getExperimentConfig(t.db, MISSING)).toBeNull();
    expect(await getSearcherMetric(t.db, MISSING)).toBeNull();
    expect(await lockExperiment(t.db, MISSING, false)).toBeNull();
    expect(await getContext(t.db, MISSING)).toBeNull();
    expect(await experimentExists(t.db, MISSING)).toBe(false);
  });

  it('stores the model directory archive byte for byte, and has none when submitted without one', async () => {
    const context = Buffer.concat([Buffer.from([0, 1, 0, 255, 254, 92, 39, 0]), randomBytes(256 * 1024)]);
    const withContext = await addExperiment(t.db, { context });
    const without = await addExperiment(t.db);
    const back = await getContext(t.db, withContext);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back!.length).toBe(context.length);
    expect(back!.equals(context)).toBe(true);
    expect(await getContext(t.db, without)).toBeNull();
  });

  it('counts trials by state in the summary', async () => {
    const id = await addExperiment(t.db);
    const [a] = [await addTrial(t.db, id), await addTrial(t.db, id), await addTrial(t.db, id)];
    await endTrial(t.db, a!, 'COMPLETED');
    const s = await getExperimentSummary(t.db, id);
    expect(s!.numTrials).toBe(3);
    expect(s!.trialStates).toEqual({ ACTIVE: 2, COMPLETED: 1 });
  });

  it('locks the lifecycle view with the typed config, in a transaction', async () => {
    const id = await addExperiment(t.db, { state: 'PAUSED' });
    const row = await t.db.transaction((tx) => lockExperiment(tx, id));
    expect(row).toEqual({ id, state: 'PAUSED', config: experimentConfig(), searcher_state: null, searcher_done: false, pending_actions: null });
    expect(row!.config.searcher.max_length).toEqual({ unit: 'batches', value: 10 });
    // Pending searcher actions are stored with the searcher state and listed until applied.
    await t.db.transaction((tx) => saveSearcher(tx, id, { method: 'random' } as never, false, 0, [{ kind: 'shutdown' }]));
    expect((await lockExperiment(t.db, id, false))!.pending_actions).toEqual([{ kind: 'shutdown' }]);
    expect(await experimentsWithPendingActions(t.db)).toContain(id);
    await t.db.transaction((tx) => saveSearcher(tx, id, { method: 'random' } as never, false, 0));
    expect((await lockExperiment(t.db, id, false))!.pending_actions).toBeNull();
    expect(await experimentsWithPendingActions(t.db)).not.toContain(id);
  });

  it('saves the searcher state, its done flag and the progress', async () => {
    const id = await addExperiment(t.db);
    const state = { method: 'random', created: 2, rng: [1, 2, 3, 4], nested: { pending: ['a', 'b'] } };
    await saveSearcher(t.db, id, state, true, 0.25);
    expect(await lockExperiment(t.db, id, false)).toMatchObject({ searcher_state: state, searcher_done: true });
    const d = await getExperimentDetail(t.db, id);
    expect(d!.searcherState).toEqual(state);
    expect(d!.progress).toBe(0.25);
  });

  it('stamps the end time on a terminal state and clears it otherwise; COMPLETED sets progress to 1', async () => {
    const done = await addExperiment(t.db);
    await saveSearcher(t.db, done, { method: 'random' }, false, 0.4);
    await setExperimentState(t.db, done, 'COMPLETED');
    let s = await getExperimentSummary(t.db, done);
    expect(s).toMatchObject({ state: 'COMPLETED', progress: 1 });
    expect(Math.abs(Date.parse(s!.endTime!) - Date.now())).toBeLessThan(60_000);

    const canceled = await addExperiment(t.db);
    await saveSearcher(t.db, canceled, { method: 'random' }, false, 0.4);
    await setExperimentState(t.db, canceled, 'CANCELED');
    s = await getExperimentSummary(t.db, canceled);
    expect(s).toMatchObject({ state: 'CANCELED', progress: 0.4 });
    expect(s!.endTime).not.toBeNull();

    await setExperimentState(t.db, canceled, 'ACTIVE');
    s = await getExperimentSummary(t.db, canceled);
    expect(s).toMatchObject({ state: 'ACTIVE', endTime: null });

    for (const state of ['PAUSED', 'STOPPING_CANCELED'] as const) {
      await setExperimentState(t.db, canceled, state);
      expect(await getExperimentSummary(t.db, canceled)).toMatchObject({ state, endTime: null });
    }
    await setExperimentState(t.db, canceled, 'ERROR');
    expect((await getExperimentSummary(t.db, canceled))!.endTime).not.toBeNull();
  });

  it.each([
    { smallerIsBetter: true, reports: [0.5, 0.7, 0.3, 0.4], best: 0.3 },
    { smallerIsBetter: false, reports: [0.5, 0.7, 0.3, 0.6], best: 0.7 },
  ])('keeps the best metric in the searcher direction (smaller is better: $smallerIsBetter)', async ({ smallerIsBetter, reports, best }) => {
    const id = await addExperiment(t.db, { config: searcher('metric', smallerIsBetter) });
    expect((await getExperimentSummary(t.db, id))!.bestMetric).toBeNull();
    await recordBestMetric(t.db, id, reports[0]!);
    expect((await getExperimentSummary(t.db, id))!.bestMetric).toBe(reports[0]);
    for (const m of reports.slice(1)) await recordBestMetric(t.db, id, m);
    expect((await getExperimentSummary(t.db, id))!.bestMetric).toBe(best);
  });

  it.each([
    { smallerIsBetter: true, first: [0.5, 0.2, 0.9], afterFirst: 0.2, second: [0.3, 0.25], best: 0.2, third: [0.1, 0.4], finally: 0.1 },
    { smallerIsBetter: false, first: [0.5, 0.2, 0.9], afterFirst: 0.9, second: [0.3, 0.85], best: 0.9, third: [0.95, 0.4], finally: 0.95 },
  ])('folds a batch of values into the best metric (smaller is better: $smallerIsBetter); an empty batch changes nothing', async (c) => {
    const id = await addExperiment(t.db, { config: searcher('metric', c.smallerIsBetter) });
    const other = await addExperiment(t.db, { config: searcher('metric', c.smallerIsBetter) });
    const best = async (e = id) => (await getExperimentSummary(t.db, e))!.bestMetric;
    await recordBestMetric(t.db, id, []);
    expect(await best()).toBeNull();
    await recordBestMetric(t.db, id, c.first);
    expect(await best()).toBe(c.afterFirst);
    await recordBestMetric(t.db, id, c.second);
    expect(await best()).toBe(c.best);
    await recordBestMetric(t.db, id, []);
    expect(await best()).toBe(c.best);
    await recordBestMetric(t.db, id, c.third);
    expect(await best()).toBe(c.finally);
    // A single value and a one-value batch fold alike.
    await recordBestMetric(t.db, other, 0.5);
    await recordBestMetric(t.db, other, [c.smallerIsBetter ? 0.4 : 0.6]);
    expect(await best(other)).toBe(c.smallerIsBetter ? 0.4 : 0.6);
  });

  it('sets the progress of one experiment, leaving the searcher state alone', async () => {
    const id = await addExperiment(t.db);
    const other = await addExperiment(t.db);
    await saveSearcher(t.db, id, { method: 'random', created: 1 }, false, 0.1);
    await setProgress(t.db, id, 0.375);
    expect((await getExperimentSummary(t.db, id))!.progress).toBe(0.375);
    expect(await getExperimentDetail(t.db, id)).toMatchObject({ progress: 0.375, searcherState: { method: 'random', created: 1 } });
    expect((await lockExperiment(t.db, id, false))!.searcher_done).toBe(false);
    expect((await getExperimentSummary(t.db, other))!.progress).toBe(0);
    await setProgress(t.db, id, 0.25);
    expect((await getExperimentSummary(t.db, id))!.progress).toBe(0.25);
    await setProgress(t.db, id, 1);
    expect((await getExperimentSummary(t.db, id))!.progress).toBe(1);
  });

  it('updates one scheduling field and the stored config that shows it', async () => {
    const id = await addExperiment(t.db, { config: { resources: { max_slots: 4 } } });
    const config = experimentConfig({ resources: { max_slots: 4 } });
    const updated = { ...config, resources: { ...config.resources, priority: 5 } };
    await setSchedulingField(t.db, id, 'priority', 5, updated);
    expect(await getExperimentSummary(t.db, id)).toMatchObject({ priority: 5, weight: 1, maxSlots: 4 });
    expect((await getExperimentConfig(t.db, id))!.resources.priority).toBe(5);

    await setSchedulingField(t.db, id, 'weight', 0.5, { ...updated, resources: { ...updated.resources, weight: 0.5 } });
    const { max_slots: _dropped, ...unlimited } = updated.resources;
    await setSchedulingField(t.db, id, 'max_slots', null, { ...updated, resources: { ...unlimited, weight: 0.5 } });
    expect(await getExperimentSummary(t.db, id)).toMatchObject({ priority: 5, weight: 0.5, maxSlots: null });
    expect((await getExperimentConfig(t.db, id))!.resources).toEqual({ ...unlimited, weight: 0.5 });
  });

  describeList();

  function describeList(): void {
    // name, searcher, state, best metric, trials
    const rows: Array<[string, string, ExperimentState, number | null, number]> = [
      ['alpha_1', 'random', 'ACTIVE', 0.3, 2],
      ['alpha%2', 'grid', 'COMPLETED', 0.1, 0],
      ['ALPHA-3', 'random', 'ERROR', null, 1],
      ['beta', 'grid', 'PAUSED', 0.2, 3],
      ['back\\slash', 'random', 'COMPLETED', null, 0],
      ['alphaX1', 'random', 'CANCELED', 0.5, 0],
      ['Étude', 'random', 'STOPPING_CANCELED', null, 0],
    ];
    async function seed(): Promise<Record<string, number>> {
      const ids: Record<string, number> = {};
      for (const [name, searcherName, state, best, trials] of rows) {
        const id = await addExperiment(t.db, {
          state,
          config: { name, searcher: { name: searcherName, metric: 'loss', max_trials: 2, max_length: 10 }, hyperparameters: { lr: { type: 'categorical', vals: [0.1, 0.01] } } },
        });
        if (best !== null) await recordBestMetric(t.db, id, best);
        for (let i = 0; i < trials; i++) await addTrial(t.db, id);
        ids[name] = id;
      }
      return ids;
    }
    const names = async (f: Partial<ExperimentFilter>): Promise<string[]> => (await listExperiments(t.db, page(f))).items.map((e) => e.name);

    it('lists experiments filtered by name substring (case-insensitive, % _ \\ literal), state and searcher', async () => {
      await seed();
      expect(await names({})).toEqual(rows.map((r) => r[0]));
      expect(await names({ name: 'alpha' })).toEqual(['alpha_1', 'alpha%2', 'ALPHA-3', 'alphaX1']);
      expect(await names({ name: 'a_1' })).toEqual(['alpha_1']);
      expect(await names({ name: '%' })).toEqual(['alpha%2']);
      expect(await names({ name: '\\' })).toEqual(['back\\slash']);
      expect(await names({ states: ['COMPLETED', 'ERROR'] })).toEqual(['alpha%2', 'ALPHA-3', 'back\\slash']);
      expect(await names({ searcher: 'grid' })).toEqual(['alpha%2', 'beta']);
      expect(await names({ name: 'ALPHA', states: ['ACTIVE', 'COMPLETED', 'CANCELED'], searcher: 'random' })).toEqual(['alpha_1', 'alphaX1']);
      expect(await names({ name: 'étude' })).toEqual(['Étude']);
      expect(await names({ name: 'gamma' })).toEqual([]);
    });

    it('sorts in both directions (nulls last, ties newest first) and pages with the total of all matches', async () => {
      const ids = await seed();
      // Names sort in the database's collation (C in PGlite, the server's locale in PostgreSQL): compare only names
      // that sort alike in every collation.
      expect(await names({ sort: 'name', order: 'asc', searcher: 'grid' })).toEqual(['alpha%2', 'beta']);
      expect(await names({ sort: 'name', order: 'desc', searcher: 'grid' })).toEqual(['beta', 'alpha%2']);
      expect(await names({ sort: 'state', order: 'asc' })).toEqual(['alpha_1', 'alphaX1', 'back\\slash', 'alpha%2', 'ALPHA-3', 'beta', 'Étude']);
      expect(await names({ sort: 'bestMetric', order: 'asc' })).toEqual(['alpha%2', 'beta', 'alpha_1', 'alphaX1', 'Étude', 'back\\slash', 'ALPHA-3']);
      expect(await names({ sort: 'bestMetric', order: 'desc' })).toEqual(['alphaX1', 'alpha_1', 'beta', 'alpha%2', 'Étude', 'back\\slash', 'ALPHA-3']);
      expect(await names({ sort: 'numTrials', order: 'desc' })).toEqual(['beta', 'alpha_1', 'ALPHA-3', 'Étude', 'alphaX1', 'back\\slash', 'alpha%2']);
      expect(await names({ sort: 'id', order: 'desc' })).toEqual(rows.map((r) => r[0]).reverse());

      const p = await listExperiments(t.db, page({ sort: 'id', order: 'asc', offset: 1, limit: 2 }));
      expect(p.items.map((e) => e.id)).toEqual([ids['alpha%2'], ids['ALPHA-3']]);
      expect(p).toMatchObject({ total: rows.length, offset: 1, limit: 2 });
      const filtered = await listExperiments(t.db, page({ name: 'alpha', offset: 3, limit: 2 }));
      expect(filtered.items.map((e) => e.name)).toEqual(['alphaX1']);
      expect(filtered.items[0]!.id).toBe(ids.alphaX1);
      expect(filtered.total).toBe(4);
      const beyond = await listExperiments(t.db, page({ offset: 50, limit: 10 }));
      expect(beyond).toMatchObject({ items: [], total: rows.length });
    });

    it('lists summaries with their trial counts', async () => {
      const ids = await seed();
      const beta = (await listExperiments(t.db, page({ name: 'beta' }))).items[0]!;
      expect(beta).toEqual(await getExperimentSummary(t.db, ids.beta!));
      expect(beta).toMatchObject({ numTrials: 3, trialStates: { ACTIVE: 3 }, bestMetric: 0.2, state: 'PAUSED' });
    });
  }

  it('lists the unfinished experiments in id order and counts experiments by state', async () => {
    const ids: Partial<Record<ExperimentState, number>> = {};
    for (const state of ['COMPLETED', 'ACTIVE', 'CANCELED', 'PAUSED', 'ERROR', 'STOPPING_CANCELED', 'ACTIVE'] as const) ids[state] = await addExperiment(t.db, { state });
    const unfinished = await unfinishedExperimentIds(t.db);
    expect(unfinished).toEqual([...unfinished].sort((a, b) => a - b));
    expect(unfinished).toHaveLength(4);
    for (const s of ['ACTIVE', 'PAUSED', 'STOPPING_CANCELED'] as const) expect(unfinished).toContain(ids[s]);

    const counts = await countExperimentsByState(t.db);
    expect(counts.sort((a, b) => a.state.localeCompare(b.state))).toEqual([
      { state: 'ACTIVE', n: 2 },
      { state: 'CANCELED', n: 1 },
      { state: 'COMPLETED', n: 1 },
      { state: 'ERROR', n: 1 },
      { state: 'PAUSED', n: 1 },
      { state: 'STOPPING_CANCELED', n: 1 },
    ]);
  });

  // STOPPING_COMPLETED is not terminal: such an experiment is re-evaluated at start-up like the others.
  it('lists a STOPPING_COMPLETED experiment as unfinished (it is not terminal)', async () => {
    const id = await addExperiment(t.db, { state: 'STOPPING_COMPLETED' });
    expect(await unfinishedExperimentIds(t.db)).toEqual([id]);
  });
});
