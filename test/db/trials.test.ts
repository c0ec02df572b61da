import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { insertCheckpoint } from '../../master/src/db/checkpoints';
import { setExperimentState } from '../../master/src/db/experiments';
import { insertMetrics } from '../../master/src/db/metrics';
import { terminateAllocation } from '../../master/src/db/allocations';
import {
  closeAllTrials,
  closeTrial,
  countTrials,
  endLiveTrials,
  endTrial,
  getMetricNames,
  getOperationState,
  getTrialLaunchInfo,
  getTrialMetricInfo,
  getTrialSummary,
  insertTrial,
  lengthsInFlight,
  listTrials,
  lockTrial,
  raiseTargetLength,
  setCompletedLength,
  setFailure,
  setLatestCheckpoint,
  setLiveTrialStates,
  setRestarts,
  setTrainedLength,
  trialExists,
  trialsWantingAllocation,
} from '../../master/src/db/trials';
import { describeBoth } from './both';
import { addAllocation, addExperiment, addExperimentWithTrial, addTrial, experimentConfig, LOSS, searcher } from './fixtures';

const MISSING = 987654321;

describeBoth('trials repository', (t) => {
  it('creates a trial once per request id: a replayed create returns null and adds no row', async () => {
    const exp = await addExperiment(t.db);
    const hparams = { lr: 0.01, layers: { n: 3, act: 'relu' }, sizes: [32, 64] };
    const id = await insertTrial(t.db, exp, 'req-1', hparams, 3_000_000_123);
    expect(typeof id).toBe('number');
    expect(await insertTrial(t.db, exp, 'req-1', { lr: 0.5 }, 1)).toBeNull();
    const trials = await listTrials(t.db, exp);
    expect(trials).toHaveLength(1);
    expect(trials[0]).toMatchObject({
      id, experimentId: exp, requestId: 'req-1', state: 'ACTIVE', hparams, seed: 3_000_000_123, targetLength: 0, completedLength: 0, restarts: 0,
      bestValidation: null, latestValidation: null, latestTraining: null, latestCheckpoint: null, endTime: null,
    });
    expect(await getTrialSummary(t.db, id!)).toEqual(trials[0]);
    // The same request id in another experiment is another trial.
    expect(await insertTrial(t.db, await addExperiment(t.db), 'req-1', hparams, 1)).not.toBeNull();
  });

  it('only grows the target length, and gives closed trials no more work', async () => {
    const exp = await addExperiment(t.db);
    const id = await addTrial(t.db, exp, { requestId: 'r' });
    const target = async () => (await getTrialSummary(t.db, id))!.targetLength;
    expect(await raiseTargetLength(t.db, exp, 'r', 10)).toBe(id);
    expect(await target()).toBe(10);
    expect(await raiseTargetLength(t.db, exp, 'r', 5)).toBe(id);
    expect(await target()).toBe(10);
    await raiseTargetLength(t.db, exp, 'r', 20.5);
    expect(await target()).toBe(20.5);
    expect(await raiseTargetLength(t.db, exp, 'unknown', 30)).toBeNull();

    expect(await closeTrial(t.db, exp, 'r')).toEqual({ id, state: 'ACTIVE' });
    expect(await raiseTargetLength(t.db, exp, 'r', 40)).toBeNull();
    expect(await target()).toBe(20.5);
    expect(await getOperationState(t.db, id)).toEqual({ targetLength: 20.5, completedLength: 0, closed: true, state: 'ACTIVE', experimentState: 'ACTIVE' });
    expect(await closeTrial(t.db, exp, 'unknown')).toBeNull();
  });

  it('closes every trial of an experiment, and only of that one', async () => {
    const exp = await addExperiment(t.db);
    const [a, b] = [await addTrial(t.db, exp), await addTrial(t.db, exp)];
    const other = await addExperimentWithTrial(t.db);
    await closeAllTrials(t.db, exp);
    for (const id of [a, b]) expect((await getOperationState(t.db, id))!.closed).toBe(true);
    expect((await getOperationState(t.db, other.trialId))!.closed).toBe(false);
  });

  it('ends a trial once: a later end does not overwrite its state or end time', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    await endTrial(t.db, trialId, 'COMPLETED');
    const ended = await getTrialSummary(t.db, trialId);
    expect(ended!.state).toBe('COMPLETED');
    expect(Math.abs(Date.parse(ended!.endTime!) - Date.now())).toBeLessThan(60_000);
    expect((await getOperationState(t.db, trialId))!.closed).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    await endTrial(t.db, trialId, 'ERROR');
    expect(await getTrialSummary(t.db, trialId)).toEqual(ended);
  });

  it('ends the live trials of an experiment, leaving ended ones and other experiments alone, and counts them', async () => {
    const exp = await addExperiment(t.db);
    const [live1, live2, errored] = [await addTrial(t.db, exp), await addTrial(t.db, exp), await addTrial(t.db, exp)];
    const other = await addExperimentWithTrial(t.db);
    await endTrial(t.db, errored, 'ERROR');
    const erroredBefore = await getTrialSummary(t.db, errored);
    expect(await countTrials(t.db, exp)).toEqual({ total: 3, live: 2, errored: 1 });

    await endLiveTrials(t.db, exp, 'CANCELED');
    for (const id of [live1, live2]) expect(await getTrialSummary(t.db, id)).toMatchObject({ state: 'CANCELED', endTime: expect.any(String) });
    expect(await getTrialSummary(t.db, errored)).toEqual(erroredBefore);
    expect((await getTrialSummary(t.db, other.trialId))!.state).toBe('ACTIVE');
    expect(await countTrials(t.db, exp)).toEqual({ total: 3, live: 0, errored: 1 });
    expect(await countTrials(t.db, MISSING)).toEqual({ total: 0, live: 0, errored: 0 });
  });

  it('locks a trial and records its completed length and restarts', async () => {
    const exp = await addExperiment(t.db);
    const id = await addTrial(t.db, exp, { requestId: 'r', target: 10 });
    await t.db.transaction(async (tx) => {
      expect(await lockTrial(tx, id)).toEqual({
        id, experiment_id: exp, request_id: 'r', state: 'ACTIVE', closed: false, restarts: 0, target_length: 10, completed_length: 0,
      });
      await setCompletedLength(tx, id, 7.5);
      await setRestarts(tx, id, 2);
    });
    expect(await getTrialSummary(t.db, id)).toMatchObject({ completedLength: 7.5, restarts: 2 });
    expect(await lockTrial(t.db, MISSING)).toBeNull();
  });

  it('answers what the harness needs: operation state, launch info, metric info', async () => {
    const exp = await addExperiment(t.db, { config: searcher('accuracy', false), state: 'PAUSED' });
    const id = await addTrial(t.db, exp, { requestId: 'r', hparams: { lr: 0.3 }, seed: 99, target: 10 });
    await setCompletedLength(t.db, id, 5);
    expect(await getOperationState(t.db, id)).toEqual({ targetLength: 10, completedLength: 5, closed: false, state: 'ACTIVE', experimentState: 'PAUSED' });
    expect(await getTrialLaunchInfo(t.db, id)).toEqual({ requestId: 'r', hparams: { lr: 0.3 }, seed: 99, completedLength: 5, latestCheckpoint: null, sourceCheckpoint: null });
    expect(await getTrialMetricInfo(t.db, id)).toEqual({ experimentId: exp, metric: 'accuracy', smallerIsBetter: false });
    expect(await trialExists(t.db, id)).toBe(true);
    expect(await trialExists(t.db, MISSING)).toBe(false);
    for (const read of [getOperationState, getTrialLaunchInfo, getTrialMetricInfo, getTrialSummary]) expect(await read(t.db, MISSING)).toBeNull();
  });

  it('wants an allocation for each trial of an ACTIVE experiment with work left and no live allocation', async () => {
    const exp = await addExperiment(t.db, { config: { resources: { slots_per_trial: 4, resource_pool: 'a100' } } });
    const wants = await addTrial(t.db, exp, { target: 10 });
    await addTrial(t.db, exp); // no work yet
    const done = await addTrial(t.db, exp, { target: 10 });
    await setCompletedLength(t.db, done, 10);
    await addTrial(t.db, exp, { requestId: 'closed', target: 10 });
    await closeTrial(t.db, exp, 'closed');
    const ended = await addTrial(t.db, exp, { target: 10 });
    await endTrial(t.db, ended, 'ERROR');
    const placed = await addTrial(t.db, exp, { target: 10 });
    await addAllocation(t.db, exp, placed, 4, 'a100');
    const restarting = await addTrial(t.db, exp, { target: 10 });
    await terminateAllocation(t.db, await addAllocation(t.db, exp, restarting, 4, 'a100'), { exitCode: 1, reason: 'crashed', failed: true, lastError: null });

    const paused = await addExperiment(t.db, { state: 'PAUSED' });
    await addTrial(t.db, paused, { target: 10 });
    const stopping = await addExperiment(t.db);
    await addTrial(t.db, stopping, { target: 10 });
    await setExperimentState(t.db, stopping, 'STOPPING_CANCELED');

    expect(await trialsWantingAllocation(t.db)).toEqual([
      { id: wants, experimentId: exp, slots: 4, pool: 'a100' },
      { id: restarting, experimentId: exp, slots: 4, pool: 'a100' },
    ]);
  });

  it('moves the latest checkpoint forward by steps, never back to an older one', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    const register = async (steps: number): Promise<string> => {
      const uuid = randomUUID();
      await insertCheckpoint(t.db, {
        uuid, trialId, experimentId, allocationId: 'alloc', stepsCompleted: steps, storage: experimentConfig().checkpoint_storage, resources: { 'model.json': 10 }, metadata: {},
      });
      await setLatestCheckpoint(t.db, trialId, uuid, steps);
      return uuid;
    };
    const latest = async () => (await getTrialSummary(t.db, trialId))!.latestCheckpoint;
    const first = await register(100);
    expect(await latest()).toBe(first);
    const second = await register(200);
    expect(await latest()).toBe(second);
    await register(150);
    expect(await latest()).toBe(second);
    expect((await getTrialLaunchInfo(t.db, trialId))!.latestCheckpoint).toBe(second);
    const third = await register(300);
    expect(await latest()).toBe(third);
  });

  it('names the metrics of the trials latest reports, sorted and without repeats', async () => {
    const exp = await addExperiment(t.db);
    const [a, b] = [await addTrial(t.db, exp), await addTrial(t.db, exp)];
    await addTrial(t.db, exp); // never reported
    await insertMetrics(t.db, a, 'training', [{ stepsCompleted: 10, metrics: { loss: 1, lr: 0.1 } }], LOSS);
    await insertMetrics(t.db, b, 'training', [{ stepsCompleted: 10, metrics: { loss: 1, grad_norm: 3 } }], LOSS);
    await insertMetrics(t.db, b, 'validation', [{ stepsCompleted: 10, metrics: { loss: 1, accuracy: 0.5 } }], LOSS);
    const other = await addExperimentWithTrial(t.db);
    await insertMetrics(t.db, other.trialId, 'training', [{ stepsCompleted: 1, metrics: { elsewhere: 1 } }], LOSS);

    expect(await getMetricNames(t.db, exp)).toEqual({ training: ['grad_norm', 'loss', 'lr'], validation: ['accuracy', 'loss'] });
    expect(await getMetricNames(t.db, MISSING)).toEqual({ training: [], validation: [] });
  });
  it('starts a trial with nothing trained and no failure; a trial may be created PAUSED and then wants no allocation', async () => {
    const exp = await addExperiment(t.db);
    const active = await addTrial(t.db, exp, { requestId: 'a', target: 10 });
    const paused = await insertTrial(t.db, exp, 'p', { lr: 0.2 }, 5, 'PAUSED');
    expect(paused).not.toBeNull();
    await raiseTargetLength(t.db, exp, 'p', 10);
    expect(await getTrialSummary(t.db, active)).toMatchObject({ state: 'ACTIVE', trainedLength: 0, failure: null });
    expect(await getTrialSummary(t.db, paused!)).toMatchObject({
      id: paused, requestId: 'p', state: 'PAUSED', hparams: { lr: 0.2 }, seed: 5, targetLength: 10, trainedLength: 0, failure: null, endTime: null,
    });
    expect(await insertTrial(t.db, exp, 'p', { lr: 0.2 }, 5, 'PAUSED')).toBeNull();
    expect(await countTrials(t.db, exp)).toEqual({ total: 2, live: 2, errored: 0 });
    expect((await trialsWantingAllocation(t.db)).map((w) => w.id)).toEqual([active]);
  });

  it('records the trained length of the current run: never below completed, may go back after a resume, refused beyond the target', async () => {
    const exp = await addExperiment(t.db);
    const id = await addTrial(t.db, exp, { target: 10 });
    const trained = async () => (await getTrialSummary(t.db, id))!.trainedLength;
    expect(await setTrainedLength(t.db, id, 3.5)).toBe(true);
    expect(await trained()).toBe(3.5);
    await setCompletedLength(t.db, id, 4);
    expect(await setTrainedLength(t.db, id, 8)).toBe(true);
    expect(await trained()).toBe(8);
    // Resumed from an older checkpoint: the length follows the new run, but not below what was completed.
    expect(await setTrainedLength(t.db, id, 6)).toBe(true);
    expect(await trained()).toBe(6);
    expect(await setTrainedLength(t.db, id, 2)).toBe(true);
    expect(await trained()).toBe(4);
    expect(await setTrainedLength(t.db, id, 10)).toBe(true);
    expect(await trained()).toBe(10);
    // Beyond what the searcher asked for: refused, unchanged.
    expect(await setTrainedLength(t.db, id, 10.5)).toBe(false);
    expect(await trained()).toBe(10);
    expect(await setTrainedLength(t.db, MISSING, 1)).toBe(false);
    // The completed length never lags behind, whichever moved first.
    expect(await getTrialSummary(t.db, id)).toMatchObject({ completedLength: 4, trainedLength: 10 });
  });

  it.each(['COMPLETED', 'CANCELED', 'ERROR'] as const)('refuses a trained length for an ended trial (%s)', async (state) => {
    const exp = await addExperiment(t.db);
    const id = await addTrial(t.db, exp, { target: 10 });
    expect(await setTrainedLength(t.db, id, 5)).toBe(true);
    await endTrial(t.db, id, state);
    expect(await setTrainedLength(t.db, id, 7)).toBe(false);
    expect(await setTrainedLength(t.db, id, 1)).toBe(false);
    expect((await getTrialSummary(t.db, id))!.trainedLength).toBe(5);
  });

  it('raises the trained length with the completed length, never lowers it', async () => {
    const exp = await addExperiment(t.db);
    const id = await addTrial(t.db, exp, { target: 10 });
    await setTrainedLength(t.db, id, 3);
    await setCompletedLength(t.db, id, 5);
    expect(await getTrialSummary(t.db, id)).toMatchObject({ completedLength: 5, trainedLength: 5 });
    // Nothing in flight: the completed length raised the stored trained length too.
    expect(await lengthsInFlight(t.db, exp)).toEqual({});
    await setTrainedLength(t.db, id, 9);
    await setCompletedLength(t.db, id, 7);
    expect(await getTrialSummary(t.db, id)).toMatchObject({ completedLength: 7, trainedLength: 9 });
  });

  it('records why the latest run failed, and clears it', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    const other = await addExperimentWithTrial(t.db);
    const reason = "rank 1 exited with 1: TypeError: Cannot read properties of undefined (reading 'shape') ✓";
    await setFailure(t.db, trialId, reason);
    expect((await getTrialSummary(t.db, trialId))!.failure).toBe(reason);
    expect((await listTrials(t.db, (await getTrialMetricInfo(t.db, trialId))!.experimentId))[0]!.failure).toBe(reason);
    expect((await getTrialSummary(t.db, other.trialId))!.failure).toBeNull();
    await setFailure(t.db, trialId, 'rank 0 exited with 137');
    expect((await getTrialSummary(t.db, trialId))!.failure).toBe('rank 0 exited with 137');
    await setFailure(t.db, trialId, null);
    expect((await getTrialSummary(t.db, trialId))!.failure).toBeNull();
  });

  it("moves the experiment's trials in one state to another and returns the ids it changed", async () => {
    const exp = await addExperiment(t.db);
    const [a, b] = [await addTrial(t.db, exp), await addTrial(t.db, exp)];
    const done = await addTrial(t.db, exp);
    await endTrial(t.db, done, 'COMPLETED');
    const doneBefore = await getTrialSummary(t.db, done);
    const alreadyPaused = (await insertTrial(t.db, exp, 'paused', { lr: 0.1 }, 1, 'PAUSED'))!;
    const other = await addExperimentWithTrial(t.db);
    const sorted = (ids: number[]) => [...ids].sort((x, y) => x - y);

    expect(sorted(await setLiveTrialStates(t.db, exp, 'ACTIVE', 'PAUSED'))).toEqual([a, b]);
    for (const id of [a, b, alreadyPaused]) expect((await getTrialSummary(t.db, id))!.state).toBe('PAUSED');
    expect(await getTrialSummary(t.db, done)).toEqual(doneBefore);
    expect((await getTrialSummary(t.db, other.trialId))!.state).toBe('ACTIVE');
    expect(await setLiveTrialStates(t.db, exp, 'ACTIVE', 'PAUSED')).toEqual([]);

    expect(sorted(await setLiveTrialStates(t.db, exp, 'PAUSED', 'ACTIVE'))).toEqual([a, b, alreadyPaused]);
    for (const id of [a, b, alreadyPaused]) expect((await getTrialSummary(t.db, id))!.state).toBe('ACTIVE');
    expect(await getTrialSummary(t.db, done)).toEqual(doneBefore);
    expect(await setLiveTrialStates(t.db, MISSING, 'ACTIVE', 'PAUSED')).toEqual([]);
  });

  it('reports the length in flight by request id for unfinished trials trained beyond their completed length', async () => {
    const exp = await addExperiment(t.db);
    const running = await addTrial(t.db, exp, { requestId: 'running', target: 10 });
    await setCompletedLength(t.db, running, 2);
    await setTrainedLength(t.db, running, 4.5);
    const paused = (await insertTrial(t.db, exp, 'paused', { lr: 0.1 }, 1, 'PAUSED'))!;
    await raiseTargetLength(t.db, exp, 'paused', 10);
    await setTrainedLength(t.db, paused, 3);
    const caughtUp = await addTrial(t.db, exp, { requestId: 'caught-up', target: 10 });
    await setTrainedLength(t.db, caughtUp, 6);
    await setCompletedLength(t.db, caughtUp, 6);
    await addTrial(t.db, exp, { requestId: 'idle', target: 10 });
    const ended = await addTrial(t.db, exp, { requestId: 'ended', target: 10 });
    await setTrainedLength(t.db, ended, 5);
    await endTrial(t.db, ended, 'CANCELED');
    const other = await addExperiment(t.db);
    const elsewhere = await addTrial(t.db, other, { requestId: 'elsewhere', target: 10 });
    await setTrainedLength(t.db, elsewhere, 1);

    expect(await lengthsInFlight(t.db, exp)).toEqual({ running: 2.5, paused: 3 });
    expect(await lengthsInFlight(t.db, other)).toEqual({ elsewhere: 1 });
    expect(await lengthsInFlight(t.db, MISSING)).toEqual({});
  });
});
