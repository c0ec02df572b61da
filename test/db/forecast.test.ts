// What --profile reads of a trial that ran (master/src/db/forecast.ts): its runs with when their slot was freed
// and what in the experiment triggered them, its reports by group (superseded ones left out), its checkpoints.
import { expect, it } from 'vitest';
import { describeBoth } from './both';
import { addAllocation, addExperiment, addTrial } from './fixtures';
import { trialTiming } from '../../master/src/db/forecast';

describeBoth('forecast profile reads', (t) => {
  it('reads a run, the slot it waited for, its trigger, reports and checkpoints', async () => {
    const db = t.db;
    const T = Date.parse('2026-01-01T00:00:00Z');
    const at = (s: number) => new Date(T + s * 1000);
    const exp = await addExperiment(db);
    await db.query('UPDATE experiments SET start_time = $2 WHERE id = $1', [exp, at(0)]);
    const before = await addTrial(db, exp);
    const other = await addTrial(db, exp);
    const profiled = await addTrial(db, exp);
    const run = async (trial: number, agentId: string, devices: number[], created: number, started: number, ended: number | null) => {
      const id = await addAllocation(db, exp, trial);
      await db.query('UPDATE allocations SET placement = $2, created_at = $3, started_at = $4, ended_at = $5, state = $6 WHERE id = $1', [
        id,
        JSON.stringify([{ agentId, devices }]),
        at(created),
        at(started),
        ended === null ? null : at(ended),
        ended === null ? 'RUNNING' : 'TERMINATED',
      ]);
      return id;
    };
    // The slot (agent x, device 0) is freed at 40 s; another device of x is freed later, which does not count.
    await run(before, 'x', [0], 1, 2, 40);
    await run(other, 'x', [1], 1, 2, 45);
    const a = await run(profiled, 'x', [0], 30, 41, 100);
    // A validation of another trial at 20 s; the latest experiment event before the request (30 s) is that.
    const metric = (trial: number, grp: string, steps: number, s: number, superseded = false) =>
      db.query('INSERT INTO metrics (trial_id, grp, steps_completed, metrics, reported_at, superseded) VALUES ($1, $2, $3, $4, $5, $6)', [trial, grp, steps, '{"loss":1}', at(s), superseded]);
    await metric(before, 'validation', 10, 20);
    await metric(profiled, 'training', 10, 43);
    await metric(profiled, 'training', 5, 42.5, true);
    await metric(profiled, 'training', 100, 60);
    await metric(profiled, 'validation', 100, 61);
    await db.query(
      `INSERT INTO checkpoints (uuid, trial_id, experiment_id, allocation_id, steps_completed, storage, resources, reported_at) VALUES (gen_random_uuid(), $1, $2, $3, 100, '{}', '{}', $4)`,
      [profiled, exp, a, at(60.5)],
    );
    const got = await trialTiming(db, profiled);
    expect(got).not.toBeNull();
    expect(got!.experimentId).toBe(exp);
    expect(got!.allocations).toEqual([{ createdAt: T + 30_000, startedAt: T + 41_000, endedAt: T + 100_000, slotFreedAt: T + 40_000, triggerAt: T + 20_000 }]);
    expect(got!.reports).toEqual([
      { steps: 10, at: T + 43_000, group: 'training' },
      { steps: 100, at: T + 60_000, group: 'training' },
      { steps: 100, at: T + 61_000, group: 'validation' },
    ]);
    expect(got!.checkpoints).toEqual([{ steps: 100, at: T + 60_500 }]);
    // The first run on its slot: nothing freed it; the trigger is the submission.
    const first = await trialTiming(db, before);
    expect(first!.allocations[0]).toMatchObject({ slotFreedAt: null, triggerAt: T });
    expect(await trialTiming(db, 999_999)).toBeNull();
  });
});
