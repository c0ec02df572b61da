// The fake Kubernetes API server (test/helpers/fakeKube) behaves as the real one does for what the Kubernetes
// resource manager relies on, checked with the real @kubernetes/client-node: PATCH of pods (merge patch, a new
// resourceVersion, a MODIFIED watch event; an unknown patch type refused), v1 Secrets (create with stringData
// stored as data, get, list by label, delete, garbage-collected with their owning Job, immutable data), the
// kubelet resolving secretKeyRef (CreateContainerConfigError while the Secret is missing, then the container
// starts), and a silently dropped watch event that only a fresh list shows.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch, type V1EnvVar, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { FakeCluster } from '../helpers/fakeKube';
import { tmpDir, waitFor } from '../helpers/processes';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('the fake Kubernetes API server', () => {
  const cluster = new FakeCluster({ baseEnv: { PATH: process.env.PATH ?? '' } });
  let core: CoreV1Api;
  let batch: BatchV1Api;
  let kc: KubeConfig;
  beforeAll(async () => {
    await cluster.start([{ name: 'node-a', gpus: 1 }]);
    kc = new KubeConfig();
    kc.loadFromFile(cluster.writeKubeconfig(path.join(tmpDir('fakekube'), 'kubeconfig')));
    core = kc.makeApiClient(CoreV1Api);
    batch = kc.makeApiClient(BatchV1Api);
  });
  afterAll(() => cluster.close());

  const job = (name: string, env: V1EnvVar[], command: string[]): V1Job => ({
    metadata: { name, labels: { app: name } },
    spec: {
      completionMode: 'Indexed',
      completions: 1,
      parallelism: 1,
      backoffLimit: 0,
      template: { metadata: { labels: { app: name } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i', command, env }] } },
    },
  });
  const podOf = (jobName: string) => cluster.api.list('pods', 'default').find((p) => p.metadata.labels['job-name'] === jobName);

  it('patches a pod\'s labels with a merge patch: new resourceVersion, MODIFIED on the watch', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p1', labels: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'i' }], nodeName: 'elsewhere' } } });
    const before = (await core.readNamespacedPod({ name: 'p1', namespace: 'default' })).metadata!.resourceVersion!;
    const events: Array<{ type: string; pod: V1Pod }> = [];
    const watching = await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: before }, (type, pod: V1Pod) => events.push({ type, pod }), () => undefined);
    const patched = await core.patchNamespacedPod({ name: 'p1', namespace: 'default', body: { metadata: { labels: { 'hone.ai/rank': '3' } } } }, MERGE);
    expect(patched.metadata!.labels).toEqual({ a: '1', 'hone.ai/rank': '3' });
    expect(patched.metadata!.resourceVersion).not.toBe(before);
    const ev = await waitFor('the MODIFIED event', async () => events.find((e) => e.type === 'MODIFIED' && e.pod.metadata?.labels?.['hone.ai/rank'] === '3') ?? null, 5000);
    expect(ev.pod.metadata!.resourceVersion).toBe(patched.metadata!.resourceVersion);
    watching.abort();
    // null deletes a label; a stale resourceVersion is a conflict; a patch type the server does not know is refused.
    const removed = await core.patchNamespacedPod({ name: 'p1', namespace: 'default', body: { metadata: { labels: { a: null } } } }, MERGE);
    expect(removed.metadata!.labels).toEqual({ 'hone.ai/rank': '3' });
    await expect(core.patchNamespacedPod({ name: 'p1', namespace: 'default', body: { metadata: { resourceVersion: before, labels: { b: '2' } } } }, MERGE)).rejects.toMatchObject({ code: 409 });
    await expect(core.patchNamespacedPod({ name: 'p1', namespace: 'default', body: { metadata: { labels: { b: '2' } } } }, setHeaderOptions('Content-Type', 'application/x-yaml'))).rejects.toMatchObject({ code: 415 });
    await expect(core.patchNamespacedPod({ name: 'nope', namespace: 'default', body: {} }, MERGE)).rejects.toMatchObject({ code: 404 });
    await core.deleteNamespacedPod({ name: 'p1', namespace: 'default' });
  });

  it('serves v1 Secrets: stringData stored as data, listed by label, deleted, immutable data kept', async () => {
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's1', labels: { team: 'x' } }, stringData: { token: 'sekrit' }, immutable: true } });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's2', labels: { team: 'y' } }, data: { token: Buffer.from('other').toString('base64') } } });
    const s1 = await core.readNamespacedSecret({ name: 's1', namespace: 'default' });
    expect(Buffer.from(s1.data!.token!, 'base64').toString()).toBe('sekrit');
    expect(s1.stringData).toBeUndefined();
    expect(s1.type).toBe('Opaque');
    expect((await core.listNamespacedSecret({ namespace: 'default', labelSelector: 'team=x' })).items.map((s) => s.metadata!.name)).toEqual(['s1']);
    await expect(core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's1' }, data: {} } })).rejects.toMatchObject({ code: 409 });
    await expect(core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'bad' }, data: { k: 'not base64!' } } })).rejects.toMatchObject({ code: 422 });
    await expect(core.patchNamespacedSecret({ name: 's1', namespace: 'default', body: { data: { token: 'eA==' } } }, MERGE)).rejects.toMatchObject({ code: 422 });
    // Metadata of an immutable Secret may change.
    const owned = await core.patchNamespacedSecret({ name: 's1', namespace: 'default', body: { metadata: { labels: { team: 'z' } } } }, MERGE);
    expect(owned.metadata!.labels).toEqual({ team: 'z' });
    await core.deleteNamespacedSecret({ name: 's1', namespace: 'default' });
    await core.deleteNamespacedSecret({ name: 's2', namespace: 'default' });
    await expect(core.readNamespacedSecret({ name: 's1', namespace: 'default' })).rejects.toMatchObject({ code: 404 });
  });

  it('a Secret owned by a Job is garbage-collected with it (not when the Job is orphaning)', async () => {
    const made = await batch.createNamespacedJob({ namespace: 'default', body: job('gc', [], ['node', '-e', '']) });
    for (const [name, uid] of [['owned', made.metadata!.uid!], ['unowned', 'someone-else']] as const) {
      await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'gc', uid }] }, stringData: { k: 'v' } } });
    }
    await batch.deleteNamespacedJob({ name: 'gc', namespace: 'default', propagationPolicy: 'Background' });
    expect(cluster.api.get('secrets', 'default', 'owned')).toBeUndefined();
    expect(cluster.api.get('secrets', 'default', 'unowned')).toBeDefined();
    await core.deleteNamespacedSecret({ name: 'unowned', namespace: 'default' });
  });

  it('the kubelet resolves secretKeyRef; a missing Secret is CreateContainerConfigError until it exists', async () => {
    const env = [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'late', key: 'token' } } }];
    await batch.createNamespacedJob({ namespace: 'default', body: job('needs-secret', env, ['node', '-e', 'console.log(`token=${process.env.TOKEN}`)']) });
    const waiting = await waitFor('CreateContainerConfigError', async () => {
      const p = podOf('needs-secret');
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError' ? p.status.containerStatuses[0].state.waiting : null;
    }, 10_000);
    expect(waiting.message).toBe('secret "late" not found');
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'late' }, stringData: { token: 'from-the-secret' } } });
    await waitFor('the pod to succeed', async () => podOf('needs-secret')?.status?.phase === 'Succeeded', 20_000);
    const log = await core.readNamespacedPodLog({ name: podOf('needs-secret')!.metadata.name, namespace: 'default' });
    expect(log).toContain('token=from-the-secret');
    await batch.deleteNamespacedJob({ name: 'needs-secret', namespace: 'default', propagationPolicy: 'Background' });
    await core.deleteNamespacedSecret({ name: 'late', namespace: 'default' });
  });

  it('a dropped watch event reaches no watcher and no re-watch; a list shows the change', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cm' }, data: { v: '1' } } });
    const rv = (await core.readNamespacedConfigMap({ name: 'cm', namespace: 'default' })).metadata!.resourceVersion!;
    const seen: string[] = [];
    const w1 = await new Watch(kc).watch('/api/v1/namespaces/default/configmaps', { resourceVersion: rv }, (type, o: { data?: Record<string, string> }) => seen.push(`${type} ${o.data?.v}`), () => undefined);
    cluster.api.dropEvents((plural, type) => plural === 'configmaps' && type === 'MODIFIED');
    cluster.api.update('configmaps', 'default', 'cm', (o) => (o.data = { v: '2' }));
    cluster.api.update('configmaps', 'default', 'cm', (o) => (o.data = { v: '3' }));
    await waitFor('the second change', async () => seen.includes('MODIFIED 3'), 5000);
    w1.abort();
    // A watch from before both changes replays only the one that was not lost.
    const replay: string[] = [];
    const w2 = await new Watch(kc).watch('/api/v1/namespaces/default/configmaps', { resourceVersion: rv }, (type, o: { data?: Record<string, string> }) => replay.push(`${type} ${o.data?.v}`), () => undefined);
    await waitFor('the replay', async () => replay.includes('MODIFIED 3'), 5000);
    w2.abort();
    expect(seen).toEqual(['MODIFIED 3']);
    expect(replay).toEqual(['MODIFIED 3']);
    expect(cluster.api.dropped.map((d) => d.obj.data.v)).toEqual(['2']);
    expect((await core.listNamespacedConfigMap({ namespace: 'default' })).items.find((c) => c.metadata!.name === 'cm')!.data).toEqual({ v: '3' });
  });
});
