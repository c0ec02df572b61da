// Faults on the Kubernetes path (fake API server, real client, real harness processes): two 3-GPU gangs on a
// 4-GPU cluster never deadlock (one waits, with its reason in `hone job list`) while watches are dropped, history
// is compacted (410 Gone, as a watch event and as a status) and list requests fail with 500s; an image that
// cannot be pulled fails its trial with Kubernetes' message; an OOM-killed pod, an eviction and a lost node fail
// their runs with that reason and the trial resumes from its checkpoint. No Job, Pod or Secret is left after any of it.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, JobInfo, TrialDetail } from '@hone/protocol';
import { api, runCli, waitFor } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { startKubeMaster, type KubeSetup } from '../helpers/fakeKube';
import { packContext } from '../../cli/src/context';

const config = (name: string, slots: number, batches: number, extra = '') =>
  fs
    .readFileSync('examples/synthetic/single.yaml', 'utf8')
    .replace('name: synthetic-single', `name: ${name}`)
    .replace(/max_length:\n\s+batches: \d+/, `max_length:\n    batches: ${batches}`)
    .replace(/min_validation_period:\n\s+batches: \d+\n/, `min_validation_period:\n  batches: ${batches}\n`)
    .replace('slots_per_trial: 1', `slots_per_trial: ${slots}`) + extra;

describe('kubernetes faults', () => {
  let k: KubeSetup;
  let context: string;
  beforeAll(async () => {
    k = await startKubeMaster({ nodes: [{ name: 'node-a', gpus: 2 }, { name: 'node-b', gpus: 2 }] });
    context = (await packContext('examples/synthetic', 96 << 20)).data.toString('base64');
  }, 120_000);
  afterAll(async () => {
    await k?.close();
  });

  const submit = async (cfg: string) => {
    const r = await api<{ id: number }>(k.master.url, 'POST', '/experiments', { config: cfg, context });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id;
  };
  const noLeftovers = () =>
    waitFor('no Job, Pod or Secret left', async () => {
      const left = k.cluster.leftovers();
      return left.jobs.length === 0 && left.pods.length === 0 && left.secrets.length === 0;
    }, 30_000);
  const explain = async (d: ExperimentDetail) => {
    const l = await api<Array<{ rank: number; line: string }>>(k.master.url, 'GET', `/trials/${d.trials[0]!.id}/logs`);
    return `${l.body.map((x) => `[${x.rank}] ${x.line}`).join('\n')}\n${k.master.output.slice(-40).join('\n')}`;
  };

  it('admits one of two 3-GPU gangs at a time, and loses no transition to dropped watches, 410s and 500s', async () => {
    // The API server refuses the first Job creates and the first delete: the master's queue retries them.
    k.cluster.api.failNext(2, /\/jobs$/, 500, 'POST');
    k.cluster.api.failNext(1, /\/jobs\/[^/]+$/, 503, 'DELETE');
    const a = await submit(config('gang-a', 3, 120));
    const b = await submit(config('gang-b', 3, 40));
    // One gang runs (three pods), the other waits in the master's queue, not as pods holding GPUs.
    const waiting = await waitFor('one gang running, one waiting', async () => {
      const jobs = (await api<JobInfo[]>(k.master.url, 'GET', '/jobs')).body;
      const running = jobs.filter((j) => j.state !== 'PENDING');
      const pending = jobs.filter((j) => j.state === 'PENDING');
      if (process.env.HONE_TEST_VERBOSE) console.log(JSON.stringify(jobs.map((j) => [j.state, j.reason])), k.cluster.api.list('pods').map((p) => `${p.metadata.name}:${p.status.phase}`));
      return running.length === 1 && pending.length === 1 && k.cluster.runningPods().length === 3 ? pending[0] : null;
    }, 120_000);
    expect(waiting.reason).toBeTruthy();
    expect(k.cluster.api.list('jobs')).toHaveLength(1);
    const cli = await runCli(['-m', k.master.url, 'job', 'list']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(waiting.reason!);

    // Faults while the first gang trains: the watches drop, history is compacted (410 as an event), list and
    // watch requests fail, then 410 as an HTTP status.
    k.cluster.api.dropWatches();
    await new Promise((r) => setTimeout(r, 500));
    k.cluster.api.compactHistory();
    k.cluster.api.failNext(4, /\/pods/, 500, 'GET');
    await new Promise((r) => setTimeout(r, 1500));
    k.cluster.api.goneAsStatus = true;
    k.cluster.api.compactHistory();

    const [da, db] = [await waitForExperimentEnd(k.master.url, a, 300_000), await waitForExperimentEnd(k.master.url, b, 300_000)];
    for (const d of [da, db]) {
      if (d.state !== 'COMPLETED' || d.trials[0]!.restarts !== 0) console.log(await explain(d));
      expect(d.state).toBe('COMPLETED');
      expect(d.trials[0]!.restarts).toBe(0);
    }
    // The master never admitted more than fit: no pod ever waited for GPUs in kube-scheduler.
    expect(k.cluster.api.list('events').filter((e) => e.reason === 'FailedScheduling')).toEqual([]);
    expect(k.cluster.api.requests.some((r) => r.status === 500)).toBe(true);
    expect(k.master.output.some((l) => l.includes('kubernetes watch failed'))).toBe(true);
    expect(k.cluster.api.requests.filter((r) => r.method === 'POST' && r.status === 500)).toHaveLength(2);
    expect(k.cluster.api.requests.filter((r) => r.method === 'DELETE' && r.status === 503)).toHaveLength(1);
    expect(k.master.output.some((l) => l.includes('kubernetes request failed; retrying'))).toBe(true);
    await noLeftovers();
  }, 700_000);

  it('fails a trial whose image cannot be pulled, with Kubernetes\' reason', async () => {
    k.cluster.failImagePull('hone:test', 'Back-off pulling image "hone:test": not found');
    try {
      const id = await submit(config('no-image', 1, 20, 'max_restarts: 0\n'));
      const d = await waitForExperimentEnd(k.master.url, id, 120_000);
      expect(d.state).toBe('ERROR');
      const t = (await api<TrialDetail>(k.master.url, 'GET', `/trials/${d.trials[0]!.id}`)).body;
      expect(t.allocations[0]!.exitReason).toContain('ImagePullBackOff');
      expect(t.allocations[0]!.exitReason).toContain('not found');
      const logs = await api<Array<{ line: string }>>(k.master.url, 'GET', `/trials/${t.id}/logs`);
      expect(logs.body.some((l) => l.line.includes('ImagePullBackOff'))).toBe(true);
    } finally {
      k.cluster.allowImagePull('hone:test');
    }
    await noLeftovers();
  }, 200_000);

  it('an OOM-killed pod fails its allocation; the trial resumes from its checkpoint', async () => {
    const id = await submit(config('oom', 1, 400, 'max_restarts: 1\nmin_checkpoint_period:\n  batches: 50\n').replace(/min_validation_period:\n\s+batches: \d+\n/, 'min_validation_period:\n  batches: 50\n'));
    await waitFor('a checkpoint', async () => {
      const d = (await api<ExperimentDetail>(k.master.url, 'GET', `/experiments/${id}`)).body;
      return d.trials[0]?.latestCheckpoint ? d : null;
    }, 180_000);
    const pod = k.cluster.runningPods()[0]!;
    k.cluster.oomKill(pod.metadata.name);
    const d = await waitForExperimentEnd(k.master.url, id, 300_000);
    if (d.state !== 'COMPLETED') console.log(await explain(d));
    expect(d.state).toBe('COMPLETED');
    expect(d.trials[0]!.restarts).toBe(1);
    const t = (await api<TrialDetail>(k.master.url, 'GET', `/trials/${d.trials[0]!.id}`)).body;
    expect(t.allocations.some((x) => x.exitReason?.includes('OOMKilled'))).toBe(true);
    await noLeftovers();
  }, 500_000);

  it('an eviction and a lost node fail their runs with the reason; the trial resumes from its checkpoint', async () => {
    const cfg = config('evicted', 1, 400, 'max_restarts: 3\nmin_checkpoint_period:\n  batches: 50\n').replace(/min_validation_period:\n\s+batches: \d+\n/, 'min_validation_period:\n  batches: 50\n');
    const id = await submit(cfg);
    const checkpointed = (n: number) =>
      waitFor(`checkpoint and run ${n}`, async () => {
        const d = (await api<ExperimentDetail>(k.master.url, 'GET', `/experiments/${id}`)).body;
        const t = d.trials[0] ? (await api<TrialDetail>(k.master.url, 'GET', `/trials/${d.trials[0].id}`)).body : null;
        return t && t.latestCheckpoint && t.allocations.length === n && t.allocations[n - 1]!.state === 'RUNNING' && k.cluster.runningPods().length === 1 ? t : null;
      }, 180_000);
    await checkpointed(1);
    k.cluster.evict(k.cluster.runningPods()[0]!.metadata.name);
    await checkpointed(2);
    const node = k.cluster.runningPods()[0]!.spec.nodeName as string;
    k.cluster.loseNode(node);
    const d = await waitForExperimentEnd(k.master.url, id, 300_000);
    if (d.state !== 'COMPLETED') console.log(await explain(d));
    expect(d.state).toBe('COMPLETED');
    expect(d.trials[0]!.restarts).toBe(2);
    const t = (await api<TrialDetail>(k.master.url, 'GET', `/trials/${d.trials[0]!.id}`)).body;
    expect(t.allocations.map((x) => x.exitReason ?? '').join('\n')).toMatch(/Evicted[\s\S]*NodeLost/);
    expect(t.completedLength).toBe(400);
    k.cluster.addNode({ name: node, gpus: 2 });
    await noLeftovers();
  }, 500_000);
});
