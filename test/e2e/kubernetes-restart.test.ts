// The Kubernetes path across a master SIGKILL and under preemption (fake API server, real client, real harness
// processes): a restarted master re-attaches the running Job (the trial completes with 0 restarts, one
// allocation) and deletes an orphaned Job; a higher-priority experiment preempts a lower one, which checkpoints,
// exits 0 and resumes from its checkpoint once the higher one is done. No Job, Pod or Secret is left (an
// orphaned Secret, as a master killed between creating a Secret and its Job leaves, is deleted at restart). On PostgreSQL.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, TrialDetail } from '@hone/protocol';
import { api, ROOT, waitFor } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { startKubeMaster, type KubeSetup } from '../helpers/fakeKube';
import { packContext } from '../../cli/src/context';
import { freshDatabase, postgresAvailable } from '../helpers/services';

const config = (name: string, slots: number, batches: number, extra = '') =>
  fs
    .readFileSync('examples/synthetic/single.yaml', 'utf8')
    .replace('name: synthetic-single', `name: ${name}`)
    .replace(/max_length:\n\s+batches: \d+/, `max_length:\n    batches: ${batches}`)
    .replace(/min_validation_period:\n\s+batches: \d+\n/, 'min_validation_period:\n  batches: 50\nmin_checkpoint_period:\n  batches: 50\n')
    .replace('slots_per_trial: 1', `slots_per_trial: ${slots}`) + extra;

describe('kubernetes: master restart and preemption', () => {
  let k: KubeSetup;
  let context: string;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    // On PostgreSQL where there is one (required in CI); the other Kubernetes tests use the embedded database.
    const db = (await postgresAvailable()) ? await freshDatabase('k8s') : null;
    drop = db?.drop;
    k = await startKubeMaster({ nodes: [{ name: 'node-a', gpus: 2 }, { name: 'node-b', gpus: 2 }], args: ['--preemption-timeout-s', '120'], ...(db ? { dbUrl: db.url } : {}) });
    context = (await packContext('examples/synthetic', 96 << 20)).data.toString('base64');
  }, 120_000);
  afterAll(async () => {
    await k?.close();
    await drop?.();
  });

  const submit = async (cfg: string) => {
    const r = await api<{ id: number }>(k.master.url, 'POST', '/experiments', { config: cfg, context });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id;
  };
  const training = (id: number) =>
    waitFor(`experiment ${id} training`, async () => {
      const d = (await api<ExperimentDetail>(k.master.url, 'GET', `/experiments/${id}`)).body;
      return d.trials[0]?.latestTraining ? d.trials[0] : null;
    }, 180_000);
  const noLeftovers = () =>
    waitFor('no Job, Pod or Secret left', async () => {
      const left = k.cluster.leftovers();
      return left.jobs.length === 0 && left.pods.length === 0 && left.secrets.length === 0;
    }, 30_000);

  it('a SIGKILLed master re-attaches the running Job and deletes an orphaned one', async () => {
    const id = await submit(config('restart', 2, 300));
    await training(id);
    const before = k.cluster.api.list('jobs').map((j) => j.metadata.name);
    expect(before).toHaveLength(1);
    await k.master.kill('SIGKILL');
    // While the master is away: a Job of ours whose allocation is not live (left by some earlier master).
    k.cluster.api.create('jobs', {
      metadata: { name: 'hone-orphan-t999-deadbeef', namespace: 'default', labels: { 'hone.ai/managed-by': 'hone-master', 'hone.ai/pool': 'default', 'hone.ai/allocation': 'deadbeef-0000' } },
      spec: {
        completionMode: 'Indexed',
        completions: 1,
        parallelism: 1,
        backoffLimit: 0,
        template: {
          metadata: { labels: { 'hone.ai/managed-by': 'hone-master', 'hone.ai/pool': 'default', 'hone.ai/allocation': 'deadbeef-0000' } },
          spec: { restartPolicy: 'Never', containers: [{ name: 'trial', image: 'hone:test', workingDir: ROOT, command: ['node', '-e', 'setTimeout(() => {}, 600000)'], resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
        },
      },
    });
    // And a Secret of a dead allocation with no Job (a master killed between creating the two).
    const orphanLabels = { 'hone.ai/managed-by': 'hone-master', 'hone.ai/pool': 'default', 'hone.ai/allocation': 'cafebabe-0000' };
    k.cluster.api.create('secrets', { metadata: { name: 'hone-task-cafebabe-0000', namespace: 'default', labels: orphanLabels }, data: { token: Buffer.from('stale').toString('base64') } });
    // Another pool's Secret is not this master's to delete.
    k.cluster.api.create('secrets', { metadata: { name: 'not-ours', namespace: 'default', labels: { ...orphanLabels, 'hone.ai/pool': 'other' } }, data: {} });
    const live = k.cluster.leftovers().secrets.filter((n) => n.startsWith('hone-task-') && n !== 'hone-task-cafebabe-0000');
    expect(live).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1000));
    await k.restartMaster();
    await waitFor('the orphaned Job deleted', async () => !k.cluster.api.get('jobs', 'default', 'hone-orphan-t999-deadbeef'), 60_000);
    await waitFor('the orphaned Secret deleted', async () => !k.cluster.api.get('secrets', 'default', 'hone-task-cafebabe-0000'), 60_000);
    // The running allocation's Secret stays (its pods may still need it), the other pool's too.
    expect(k.cluster.api.get('secrets', 'default', live[0]!)).toBeDefined();
    expect(k.cluster.api.get('secrets', 'default', 'not-ours')).toBeDefined();
    k.cluster.api.remove('secrets', 'default', 'not-ours');
    const d = await waitForExperimentEnd(k.master.url, id, 300_000);
    expect(d.state).toBe('COMPLETED');
    expect(d.trials[0]!.restarts).toBe(0);
    const t = (await api<TrialDetail>(k.master.url, 'GET', `/trials/${d.trials[0]!.id}`)).body;
    expect(t.allocations).toHaveLength(1);
    expect(t.completedLength).toBe(300);
    await noLeftovers();
  }, 600_000);

  it('a higher-priority experiment preempts a lower one, which resumes from its checkpoint', async () => {
    const low = await submit(config('low', 4, 300, 'resources:\n  priority: 60\n').replace('resources:\n  slots_per_trial: 4\nresources:\n  priority: 60\n', 'resources:\n  slots_per_trial: 4\n  priority: 60\n'));
    await training(low);
    const high = await submit(config('high', 2, 50).replace('slots_per_trial: 2', 'slots_per_trial: 2\n  priority: 10'));
    const h = await waitForExperimentEnd(k.master.url, high, 300_000);
    expect(h.state).toBe('COMPLETED');
    const l = await waitForExperimentEnd(k.master.url, low, 400_000);
    expect(l.state).toBe('COMPLETED');
    expect(l.trials[0]!.restarts).toBe(0);
    const t = (await api<TrialDetail>(k.master.url, 'GET', `/trials/${l.trials[0]!.id}`)).body;
    expect(t.allocations.length).toBeGreaterThanOrEqual(2);
    expect(t.allocations.some((a) => a.exitReason === 'preempted')).toBe(true);
    expect(t.completedLength).toBe(300);
    await noLeftovers();
  }, 800_000);
});
