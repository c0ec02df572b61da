// Killing one trial through the experiment controller: it ends CANCELED, its allocation is killed, and the searcher
// is told it exited, so the search goes on (a random search starts its next trial); the experiment stays ACTIVE.
import { expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { getExperimentSummary } from '../../master/src/db/experiments';
import { listTrials } from '../../master/src/db/trials';
import { EventBus } from '../../master/src/events';
import { ExperimentController } from '../../master/src/experiments/controller';
import { describeBoth } from './both';
import { addAllocation } from './fixtures';

describeBoth('trial kill', (t) => {
  it('ends that trial only and lets the searcher go on', async () => {
    const controller = new ExperimentController(t.db, new EventBus(), async () => undefined);
    const config = parseExperimentConfig({
      name: 'search', entrypoint: 'model.js', hyperparameters: { lr: { type: 'double', minval: 0.001, maxval: 0.1 } },
      searcher: { name: 'random', metric: 'loss', max_trials: 3, max_concurrent_trials: 2, max_length: 10 },
    });
    const id = await controller.createExperiment({ config, configYaml: '', context: null, activate: true, owner: 'alice' });
    const [first, second] = await listTrials(t.db, id);
    expect([first?.state, second?.state]).toEqual(['ACTIVE', 'ACTIVE']);
    const alloc = await addAllocation(t.db, id, first!.id);

    await controller.killTrial(first!.id, 'alice');
    const trials = await listTrials(t.db, id);
    expect(trials.map((x) => x.state)).toEqual(['CANCELED', 'ACTIVE', 'ACTIVE']);
    expect((await getExperimentSummary(t.db, id))!.state).toBe('ACTIVE');
    const a = await t.db.query<{ state: string; exit_reason: string }>('SELECT state, exit_reason FROM allocations WHERE id = $1', [alloc]);
    expect(a.rows[0]).toEqual({ state: 'TERMINATED', exit_reason: 'killed' });
    await expect(controller.killTrial(first!.id, 'alice')).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
    await expect(controller.killTrial(999_999, 'alice')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
