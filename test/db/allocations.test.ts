import { expect, it } from 'vitest';
import {
  assignAllocation,
  countLiveAllocationsByState,
  experimentHasLiveAllocation,
  findByToken,
  getLiveAllocations,
  getRendezvous,
  getStopState,
  listLiveAllocations,
  listTrialAllocations,
  lockAllocation,
  markAllocationRunning,
  postRendezvous,
  releaseExperimentAllocations,
  requestKill,
  requestPreemption,
  terminateAllocation,
  trialHasLiveAllocation,
} from '../../master/src/db/allocations';
import type { Queryable } from '../../master/src/db/database';
import { describeBoth } from './both';
import { addAllocation, addExperiment, addExperimentWithTrial, addTrial } from './fixtures';

const placement = [{ agentId: 'agent-1', devices: [0, 1] }, { agentId: 'agent-2', devices: [3] }];

/** How an allocation ended; no repository reads these back, so the test looks at the row. */
async function exitOf(q: Queryable, id: string): Promise<{ exit_code: number | null; exit_reason: string | null; ended: boolean }> {
  const r = await q.query<{ exit_code: number | null; exit_reason: string | null; ended: boolean }>(
    'SELECT exit_code, exit_reason, ended_at IS NOT NULL AS ended FROM allocations WHERE id = $1',
    [id],
  );
  return r.rows[0]!;
}

describeBoth('allocations repository', (t) => {
  it('goes pending → assigned (once) → running → terminated', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db, { config: { resources: { slots_per_trial: 3 } } });
    const id = await addAllocation(t.db, experimentId, trialId, 3);
    expect(await listLiveAllocations(t.db)).toMatchObject([
      { id, trialId, experimentId, state: 'PENDING', slots: 3, pool: 'default', placement: null, token: `token-${id}`, preemptRequested: false, killRequested: false },
    ]);
    expect(await trialHasLiveAllocation(t.db, trialId)).toBe(true);
    expect(await experimentHasLiveAllocation(t.db, experimentId)).toBe(true);

    expect(await assignAllocation(t.db, id, placement)).toBe(true);
    expect(await assignAllocation(t.db, id, [{ agentId: 'agent-9', devices: [7] }])).toBe(false);
    expect(await getLiveAllocations(t.db, [id])).toMatchObject([{ state: 'ASSIGNED', placement }]);

    await markAllocationRunning(t.db, id);
    await markAllocationRunning(t.db, id);
    expect(await getStopState(t.db, id)).toEqual({ state: 'RUNNING', preemptRequested: false, killRequested: false, slots: 3 });
    expect(await assignAllocation(t.db, id, placement)).toBe(false);

    await t.db.transaction(async (tx) => {
      expect(await lockAllocation(tx, id)).toEqual({ trialId, experimentId, state: 'RUNNING' });
      await terminateAllocation(tx, id, { exitCode: 137, reason: 'killed by signal', failed: false, lastError: null });
    });
    expect(await lockAllocation(t.db, id)).toEqual({ trialId, experimentId, state: 'TERMINATED' });
    expect(await exitOf(t.db, id)).toEqual({ exit_code: 137, exit_reason: 'killed by signal', ended: true });
    expect(await listLiveAllocations(t.db)).toEqual([]);
    expect(await getLiveAllocations(t.db, [id])).toEqual([]);
    expect(await trialHasLiveAllocation(t.db, trialId)).toBe(false);
    expect(await experimentHasLiveAllocation(t.db, experimentId)).toBe(false);
    // Running only follows assigned: a terminated allocation stays terminated.
    await markAllocationRunning(t.db, id);
    expect((await getStopState(t.db, id))!.state).toBe('TERMINATED');
  });

  it('does not mark a pending allocation running', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    const id = await addAllocation(t.db, experimentId, trialId);
    await markAllocationRunning(t.db, id);
    expect((await getStopState(t.db, id))!.state).toBe('PENDING');
  });

  async function threeStates(experimentId: number): Promise<{ pending: string; assigned: string; running: string }> {
    const [a, b, c] = [await addTrial(t.db, experimentId), await addTrial(t.db, experimentId), await addTrial(t.db, experimentId)];
    const pending = await addAllocation(t.db, experimentId, a);
    const assigned = await addAllocation(t.db, experimentId, b);
    const running = await addAllocation(t.db, experimentId, c);
    await assignAllocation(t.db, assigned, placement);
    await assignAllocation(t.db, running, placement);
    await markAllocationRunning(t.db, running);
    return { pending, assigned, running };
  }

  it.each(['preempt', 'kill'] as const)('releases an experiment (%s): placed ones are asked to stop, pending ones withdrawn with the reason', async (how) => {
    const exp = await addExperiment(t.db);
    const { pending, assigned, running } = await threeStates(exp);
    const other = await addExperiment(t.db);
    const untouched = await threeStates(other);

    await releaseExperimentAllocations(t.db, exp, how, 'experiment paused');
    const flags = { preemptRequested: how === 'preempt', killRequested: how === 'kill' };
    expect(await getStopState(t.db, assigned)).toMatchObject({ state: 'ASSIGNED', ...flags });
    expect(await getStopState(t.db, running)).toMatchObject({ state: 'RUNNING', ...flags });
    expect(await getStopState(t.db, pending)).toMatchObject({ state: 'TERMINATED', preemptRequested: false, killRequested: false });
    expect(await exitOf(t.db, pending)).toEqual({ exit_code: null, exit_reason: 'experiment paused', ended: true });
    expect((await listLiveAllocations(t.db)).filter((a) => a.experimentId === exp).map((a) => a.id).sort()).toEqual([assigned, running].sort());

    for (const id of Object.values(untouched)) expect(await getStopState(t.db, id)).toMatchObject({ preemptRequested: false, killRequested: false });
    expect((await getStopState(t.db, untouched.pending))!.state).toBe('PENDING');
  });

  it('asks placed allocations to preempt, and any live one to die', async () => {
    const exp = await addExperiment(t.db);
    const { pending, assigned, running } = await threeStates(exp);
    await requestPreemption(t.db, [pending, assigned, running]);
    await requestPreemption(t.db, []);
    expect((await getStopState(t.db, pending))!.preemptRequested).toBe(false);
    expect((await getStopState(t.db, assigned))!.preemptRequested).toBe(true);
    expect((await getStopState(t.db, running))!.preemptRequested).toBe(true);

    await terminateAllocation(t.db, assigned, { exitCode: 0, reason: 'exited', failed: false, lastError: null });
    for (const id of [pending, assigned, running]) await requestKill(t.db, id);
    expect((await getStopState(t.db, pending))!.killRequested).toBe(true);
    expect((await getStopState(t.db, running))!.killRequested).toBe(true);
    expect((await getStopState(t.db, assigned))!.killRequested).toBe(false);
  });

  it('finds the identity a task token grants', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    const id = await addAllocation(t.db, experimentId, trialId);
    expect(await findByToken(t.db, `token-${id}`)).toEqual({ id, trial_id: trialId, experiment_id: experimentId, state: 'PENDING' });
    await terminateAllocation(t.db, id, { exitCode: null, reason: 'done', failed: false, lastError: null });
    expect((await findByToken(t.db, `token-${id}`))!.state).toBe('TERMINATED');
    expect(await findByToken(t.db, 'no-such-token')).toBeNull();
    expect(await getStopState(t.db, 'no-such-allocation')).toBeNull();
    expect(await lockAllocation(t.db, 'no-such-allocation')).toBeNull();
  });

  it('collects rendezvous addresses by rank, with holes until every rank has posted', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    const id = await addAllocation(t.db, experimentId, trialId, 3);
    expect(await getRendezvous(t.db, id)).toEqual({ slots: 3, addresses: [undefined, undefined, undefined] });
    await postRendezvous(t.db, id, 2, '10.0.0.3:29500');
    await postRendezvous(t.db, id, 0, '10.0.0.1:29500');
    const partial = await getRendezvous(t.db, id);
    expect(partial!.addresses).toHaveLength(3);
    expect(partial!.addresses[1]).toBeUndefined();
    expect(partial).toEqual({ slots: 3, addresses: ['10.0.0.1:29500', undefined, '10.0.0.3:29500'] });
    await postRendezvous(t.db, id, 1, '10.0.0.2:29500');
    await postRendezvous(t.db, id, 0, '10.0.0.9:29501'); // a restarted rank posts again
    expect(await getRendezvous(t.db, id)).toEqual({ slots: 3, addresses: ['10.0.0.9:29501', '10.0.0.2:29500', '10.0.0.3:29500'] });
    expect(await getRendezvous(t.db, 'no-such-allocation')).toBeNull();
  });

  it("lists live allocations in submission order with their experiment's priority, weight and max slots", async () => {
    const urgent = await addExperiment(t.db, { config: { resources: { priority: 1, weight: 3, max_slots: 4, resource_pool: 'gpu' } } });
    const relaxed = await addExperiment(t.db);
    const order: string[] = [];
    for (const exp of [relaxed, urgent, relaxed, urgent]) order.push(await addAllocation(t.db, exp, await addTrial(t.db, exp), 1, exp === urgent ? 'gpu' : 'default'));
    await terminateAllocation(t.db, order[2]!, { exitCode: 0, reason: 'done', failed: false, lastError: null });
    const live = await listLiveAllocations(t.db);
    expect(live.map((a) => a.id)).toEqual([order[0], order[1], order[3]]);
    expect(live.map((a) => a.seq)).toEqual([...live.map((a) => a.seq)].sort((a, b) => a - b));
    expect(new Set(live.map((a) => a.seq)).size).toBe(3);
    expect(live[0]).toMatchObject({ experimentId: relaxed, pool: 'default', priority: 42, weight: 1, maxSlots: null });
    expect(live[1]).toMatchObject({ experimentId: urgent, pool: 'gpu', priority: 1, weight: 3, maxSlots: 4 });
    for (const a of live) {
      expect(a.createdAt).toBeInstanceOf(Date);
      expect(Math.abs(a.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    }
    expect((await getLiveAllocations(t.db, [order[3]!, order[0]!, order[2]!])).map((a) => a.id)).toEqual([order[0], order[3]]);
    expect(await getLiveAllocations(t.db, [])).toEqual([]);
  });

  it('counts live allocations by state', async () => {
    const exp = await addExperiment(t.db);
    const { pending } = await threeStates(exp);
    await addAllocation(t.db, exp, await addTrial(t.db, exp));
    await terminateAllocation(t.db, pending, { exitCode: 0, reason: 'done', failed: false, lastError: null });
    const counts = await countLiveAllocationsByState(t.db);
    expect(counts.sort((a, b) => a.state.localeCompare(b.state))).toEqual([
      { state: 'ASSIGNED', n: 1 },
      { state: 'PENDING', n: 1 },
      { state: 'RUNNING', n: 1 },
    ]);
  });
  it("lists every run of a trial oldest first: its agents in rank order, times, how it ended and the failing rank's error", async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db, { config: { resources: { slots_per_trial: 3 } } });
    const noise = await addAllocation(t.db, experimentId, await addTrial(t.db, experimentId), 3);
    expect(await listTrialAllocations(t.db, trialId)).toEqual([]);

    const crashed = await addAllocation(t.db, experimentId, trialId, 3);
    // Ranks 0 and 2 on agent-2, rank 1 on agent-1: each agent once, in the order of its first rank.
    await assignAllocation(t.db, crashed, [{ agentId: 'agent-2', devices: [0] }, { agentId: 'agent-1', devices: [4] }, { agentId: 'agent-2', devices: [1] }]);
    await markAllocationRunning(t.db, crashed);
    await terminateAllocation(t.db, crashed, { exitCode: 1, reason: 'rank 1 exited with 1', failed: true, lastError: "TypeError: x is not a function 'quoted' ✓" });
    const preempted = await addAllocation(t.db, experimentId, trialId, 3);
    await assignAllocation(t.db, preempted, placement);
    await markAllocationRunning(t.db, preempted);
    await terminateAllocation(t.db, preempted, { exitCode: 0, reason: 'preempted', failed: false, lastError: null });
    const lost = await addAllocation(t.db, experimentId, trialId, 3);
    await assignAllocation(t.db, lost, [{ agentId: 'agent-3', devices: [0, 1, 2] }]);
    await terminateAllocation(t.db, lost, { exitCode: null, reason: 'lost agent agent-3', failed: true, lastError: null });
    const pending = await addAllocation(t.db, experimentId, trialId, 3);

    const runs = await listTrialAllocations(t.db, trialId);
    expect(runs.map((r) => r.id)).toEqual([crashed, preempted, lost, pending]);
    expect(runs).toEqual([
      {
        id: crashed, state: 'TERMINATED', slots: 3, agents: ['agent-2', 'agent-1'], createdAt: expect.any(String), startedAt: expect.any(String), endedAt: expect.any(String),
        exitCode: 1, exitReason: 'rank 1 exited with 1', lastError: "TypeError: x is not a function 'quoted' ✓", failed: true,
      },
      {
        id: preempted, state: 'TERMINATED', slots: 3, agents: ['agent-1', 'agent-2'], createdAt: expect.any(String), startedAt: expect.any(String), endedAt: expect.any(String),
        exitCode: 0, exitReason: 'preempted', lastError: null, failed: false,
      },
      {
        id: lost, state: 'TERMINATED', slots: 3, agents: ['agent-3'], createdAt: expect.any(String), startedAt: null, endedAt: expect.any(String),
        exitCode: null, exitReason: 'lost agent agent-3', lastError: null, failed: true,
      },
      {
        id: pending, state: 'PENDING', slots: 3, agents: [], createdAt: expect.any(String), startedAt: null, endedAt: null,
        exitCode: null, exitReason: null, lastError: null, failed: false,
      },
    ]);
    for (const r of runs) {
      for (const time of [r.createdAt, r.startedAt, r.endedAt]) {
        if (time === null) continue;
        expect(new Date(time).toISOString()).toBe(time);
        expect(Math.abs(Date.parse(time) - Date.now())).toBeLessThan(60_000);
      }
      if (r.startedAt) expect(Date.parse(r.startedAt)).toBeGreaterThanOrEqual(Date.parse(r.createdAt));
      if (r.endedAt) expect(Date.parse(r.endedAt)).toBeGreaterThanOrEqual(Date.parse(r.startedAt ?? r.createdAt));
    }
    expect(runs.map((r) => r.id)).not.toContain(noise);
    expect(await listTrialAllocations(t.db, 987654321)).toEqual([]);
  });

  it('records how a run ended: exit code, reason, whether it failed and the last error line', async () => {
    const { experimentId, trialId } = await addExperimentWithTrial(t.db);
    const id = await addAllocation(t.db, experimentId, trialId);
    await assignAllocation(t.db, id, placement);
    await markAllocationRunning(t.db, id);
    await t.db.transaction((tx) => terminateAllocation(tx, id, { exitCode: 2, reason: 'rank 0 exited with 2', failed: true, lastError: 'Error: out of memory' }));
    expect(await exitOf(t.db, id)).toEqual({ exit_code: 2, exit_reason: 'rank 0 exited with 2', ended: true });
    expect(await listTrialAllocations(t.db, trialId)).toMatchObject([
      { id, state: 'TERMINATED', exitCode: 2, exitReason: 'rank 0 exited with 2', failed: true, lastError: 'Error: out of memory' },
    ]);
    expect(await trialHasLiveAllocation(t.db, trialId)).toBe(false);
  });
});
