// Trials as pods: a master whose pool is `type: kubernetes`, the real @kubernetes/client-node talking to the
// in-process fake API server (test/helpers/fakeKube), whose kubelet runs each pod's command (the harness) as a
// real process. ASHA searches of 1-pod and of 2-pod trials complete; every pod is labelled with its rank; the task
// token reaches the pods from a Secret and never appears in a Job; no Job, Pod or Secret is left behind, and every
// request the master sent is allowed by its RBAC, which grants no verb it did not use. A pod transition the watch
// silently loses is recovered by the periodic resync.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '@hone/protocol';
import { api, waitFor } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { startKubeMaster, type KubeSetup } from '../helpers/fakeKube';
import { packContext } from '../../cli/src/context';
import { allowed, CLUSTER_RULES, NAMESPACED_RULES, requestRule } from '../../master/src/rm/kubernetes/apiUse';

/** A small adaptive ASHA search whose trials take `slots` slots (pods of one GPU each). */
const asha = (name: string, slots: number, trials: number) =>
  fs
    .readFileSync('examples/synthetic/adaptive_asha.yaml', 'utf8')
    .replace('name: synthetic-adaptive-asha', `name: ${name}`)
    .replace(/max_trials: \d+/, `max_trials: ${trials}`)
    .replace(/max_concurrent_trials: \d+/, 'max_concurrent_trials: 2')
    .replace(/max_length:\n\s+batches: \d+/, 'max_length:\n    batches: 32')
    .replace(/max_rungs: \d+/, 'max_rungs: 2')
    .replace(/divisor: \d+/, 'divisor: 2') + `resources:\n  slots_per_trial: ${slots}\n`;

describe('kubernetes resource manager', () => {
  let k: KubeSetup;
  beforeAll(async () => {
    // A short resync, so the dropped-event test below does not wait 30 s.
    k = await startKubeMaster({ nodes: [{ name: 'node-a', gpus: 2 }, { name: 'node-b', gpus: 2 }], pool: { resync_seconds: 2 } });
  }, 120_000);
  afterAll(async () => {
    await k?.close();
  });

  it('runs ASHA searches of 1-pod and 2-pod trials as Jobs, logs and all, and cleans up', async () => {
    const { data } = await packContext('examples/synthetic', 96 << 20);
    const one = await api<{ id: number }>(k.master.url, 'POST', '/experiments', { config: asha('Ünïcode & very long name of an experiment that goes on and on', 1, 3), context: data.toString('base64') });
    expect(one.status, JSON.stringify(one.body)).toBe(201);
    const two = await api<{ id: number }>(k.master.url, 'POST', '/experiments', { config: asha('two-pods', 2, 2), context: data.toString('base64') });
    expect(two.status).toBe(201);
    const jobs = await waitFor('a Job per trial', async () => (k.cluster.api.list('jobs').length >= 1 ? k.cluster.api.list('jobs') : null), 60_000);
    for (const j of jobs) {
      expect(j.metadata.name.length).toBeLessThanOrEqual(63);
      expect(j.spec.backoffLimit).toBe(0);
      expect(j.metadata.labels['hone.ai/experiment']).toMatch(/^\d+$/);
    }
    const d1 = await waitForExperimentEnd(k.master.url, one.body.id, 240_000);
    const d2 = await waitForExperimentEnd(k.master.url, two.body.id, 240_000);
    expect(d1.trials.length).toBe(3);
    expect(d2.trials.length).toBe(2);
    for (const d of [d1, d2]) {
      if (d.state !== 'COMPLETED' || d.trials.some((t) => t.restarts)) {
        const l = await api<Array<{ rank: number; line: string }>>(k.master.url, 'GET', `/trials/${d.trials[0]!.id}/logs`);
        console.log(l.body.map((x) => `[${x.rank}] ${x.line}`).join('\n'), k.master.output.slice(-60).join('\n'));
      }
      expect(d.state).toBe('COMPLETED');
      for (const t of d.trials) expect(t.restarts).toBe(0);
    }
    // The 2-pod trial ran two pods (ranks 0 and 1) that rendezvoused through the master.
    const logs = await api<Array<{ rank: number; line: string }>>(k.master.url, 'GET', `/trials/${d2.trials[0]!.id}/logs`);
    expect(new Set(logs.body.filter((l) => l.line.startsWith('harness:')).map((l) => l.rank))).toEqual(new Set([0, 1]));
    const detail = await api<ExperimentDetail>(k.master.url, 'GET', `/experiments/${two.body.id}`);
    expect(Math.max(...detail.body.trials.map((t) => t.completedLength))).toBeGreaterThan(0);
    // Every pod got the five labels, and its rank (one GPU per pod: the completion index); the 2-pod trials had
    // ranks 0 and 1.
    expect(k.cluster.podLabels.size).toBeGreaterThanOrEqual(7);
    for (const [name, l] of k.cluster.podLabels) {
      for (const key of ['hone.ai/experiment', 'hone.ai/trial', 'hone.ai/allocation', 'hone.ai/pool']) expect(l[key], `${name} ${key}`).toBeTruthy();
      expect(l['hone.ai/rank'], `${name} has no rank label: ${JSON.stringify(l)}`).toBe(l['batch.kubernetes.io/job-completion-index']);
    }
    const twoPodRanks = [...k.cluster.podLabels.values()].filter((l) => l['hone.ai/experiment'] === String(two.body.id)).map((l) => l['hone.ai/rank']);
    expect(new Set(twoPodRanks)).toEqual(new Set(['0', '1']));
    // The token came from the allocation's Secret (the pods fetched the model and reported with it), never
    // written in a Job.
    expect(k.cluster.jobsCreated.length).toBeGreaterThanOrEqual(5);
    for (const j of k.cluster.jobsCreated) {
      const env = j.spec.template.spec.containers[0].env as Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
      const token = env.find((e) => e.name === 'HONE_TASK_TOKEN')!;
      expect(token.value).toBeUndefined();
      expect(token.valueFrom!.secretKeyRef!.name).toMatch(/^hone-task-/);
    }
    // One Secret per Job, named as its pods reference it, owned by it, and holding a token no Job contains.
    const secrets = new Map(k.cluster.secretsCreated.map((x) => [x.metadata.name as string, x]));
    expect(secrets.size).toBe(k.cluster.jobsCreated.length);
    const tokens = [...secrets.values()].map((x) => Buffer.from(x.data.token, 'base64').toString());
    for (const t of tokens) expect(t.length).toBeGreaterThanOrEqual(16);
    for (const j of k.cluster.jobsCreated) {
      const ref = (j.spec.template.spec.containers[0].env as Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string } } }>).find((e) => e.name === 'HONE_TASK_TOKEN')!.valueFrom!.secretKeyRef!.name;
      expect(secrets.get(ref)?.metadata.labels['hone.ai/allocation']).toBe(j.metadata.labels['hone.ai/allocation']);
      for (const t of tokens) expect(JSON.stringify(j)).not.toContain(t);
    }
    const patches = k.cluster.api.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/secrets/') && r.status === 200);
    expect(patches.length).toBe(secrets.size);
    await waitFor('no Job, Pod or Secret left', async () => {
      const left = k.cluster.leftovers();
      return left.jobs.length === 0 && left.pods.length === 0 && left.secrets.length === 0;
    }, 30_000);
    // Every request the master sent is one its RBAC (deploy/kubernetes/master.yaml) allows.
    const rules = [...NAMESPACED_RULES, ...CLUSTER_RULES];
    const used = new Set(k.cluster.api.requests.map((r) => JSON.stringify(requestRule(r.method, r.path))));
    for (const u of used) expect(allowed(rules, JSON.parse(u)), u).toBe(true);
    // And every verb the Role grants was used (exactly the verbs: no more than needed).
    for (const r of rules) for (const group of r.apiGroups) for (const resource of r.resources) for (const verb of r.verbs) expect(used, `${group}/${resource} ${verb} granted but never used`).toContain(JSON.stringify({ group, resource, verb }));
  }, 400_000);

  it('recovers a pod transition the watch silently lost, by the periodic resync', async () => {
    const { data } = await packContext('examples/synthetic', 96 << 20);
    const cfg = fs
      .readFileSync('examples/synthetic/single.yaml', 'utf8')
      .replace('name: synthetic-single', 'name: lost-event')
      .replace(/max_length:\n\s+batches: \d+/, 'max_length:\n    batches: 20')
      .replace(/min_validation_period:\n\s+batches: \d+\n/, 'min_validation_period:\n  batches: 20\n');
    const r = await api<{ id: number }>(k.master.url, 'POST', '/experiments', { config: cfg, context: data.toString('base64') });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // The pod's success never reaches the master's watch (nor a re-watch): the watch stays open, silent. Without
    // a re-list the trial would wait for it until the Job's TTL (an hour).
    k.cluster.api.dropEvents((plural, type, o) => plural === 'pods' && type === 'MODIFIED' && o.status?.phase === 'Succeeded' && o.metadata.labels?.['hone.ai/experiment'] === String(r.body.id));
    const d = await waitForExperimentEnd(k.master.url, r.body.id, 180_000);
    expect(k.cluster.api.dropped.filter((x) => x.plural === 'pods')).toHaveLength(1);
    expect(d.state).toBe('COMPLETED');
    expect(d.trials[0]!.restarts).toBe(0);
    expect(k.master.output.some((l) => l.includes('kubernetes resync found changes the watch missed'))).toBe(true);
    await waitFor('no Job, Pod or Secret left', async () => {
      const left = k.cluster.leftovers();
      return left.jobs.length === 0 && left.pods.length === 0 && left.secrets.length === 0;
    }, 30_000);
  }, 300_000);
});
