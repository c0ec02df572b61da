// A 10,000-trial experiment is created in bounded batches: the create answers before all its trials exist, the
// experiment list answers while the rest are being created, and a master killed midway creates each of the
// remaining trials exactly once after its restart (the pending searcher actions are stored with its state).
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, ExperimentSummary, Page } from '@hone/protocol';
import { api, freePort, startMasterProcess, tmpDir, waitFor, type MasterProc } from '../helpers/processes';

const TRIALS = 10_000;
const CONFIG = `name: huge
entrypoint: train.ts
hyperparameters:
  x: {type: double, minval: 0, maxval: 1}
searcher:
  name: random
  metric: loss
  max_trials: ${TRIALS}
  max_concurrent_trials: 0
  max_length: {batches: 1}
`;

async function numTrials(url: string, id: number): Promise<number> {
  const list = await api<Page<ExperimentSummary>>(url, 'GET', '/experiments');
  const e = list.body.items.find((x) => x.id === id);
  if (!e) throw new Error(`experiment ${id} not in the list`);
  return e.numTrials;
}

describe('creating a huge experiment', () => {
  const masters: MasterProc[] = [];
  afterAll(async () => {
    for (const m of masters) await m.kill('SIGKILL');
  });

  it('answers before all trials exist, keeps the list responsive, and creates each trial once across a restart', async () => {
    const dataDir = tmpDir('huge');
    const port = await freePort();
    let master = await startMasterProcess({ dataDir, port });
    masters.push(master);
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: CONFIG, activate: false });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(await numTrials(master.url, id)).toBeLessThan(TRIALS);

    // A list request completes while creation goes on: it sees the experiment with some, not all, of its trials.
    const seen = await waitFor('a list page taken mid-creation', async () => {
      const list = await api<Page<ExperimentSummary>>(master.url, 'GET', '/experiments');
      expect(list.status).toBe(200);
      const e = list.body.items.find((x) => x.id === id);
      return e && e.numTrials > 0 && e.numTrials < TRIALS ? e.numTrials : null;
    }, 60_000, 20);
    expect(seen).toBeGreaterThan(0);

    // Kill the master outright while trials are still being created, then restart it on the same database.
    await master.kill('SIGKILL');
    master = await startMasterProcess({ dataDir, port });
    masters.push(master);
    const before = await numTrials(master.url, id);
    await waitFor('all trials to exist', async () => (await numTrials(master.url, id)) === TRIALS, 240_000, 500);
    const exp = (await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`)).body;
    const requestIds = new Set(exp.trials.map((t) => t.requestId));
    expect(exp.trials).toHaveLength(TRIALS);
    expect(requestIds.size).toBe(TRIALS);
    expect(before).toBeLessThanOrEqual(TRIALS);
  }, 420_000);
});
