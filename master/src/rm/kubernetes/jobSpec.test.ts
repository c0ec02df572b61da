import { describe, expect, it } from 'vitest';
import { parseKubernetesPool, podShape } from './config';
import { buildJob, buildTaskSecret, secretOwnerPatch } from './jobSpec';

const cfg = parseKubernetesPool(0, 'gpu', {
  type: 'kubernetes',
  namespace: 'ml',
  max_slots_per_pod: 2,
  image: 'registry.example/hone:1',
  node_selector: { 'nvidia.com/gpu.present': 'true' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
  priority_class: 'training',
});

const input = {
  allocationId: 'a1b2c3d4-e5f6',
  trialId: 5,
  experimentId: 2,
  experimentName: 'My Experiment',
  slots: 4,
  pods: 2,
  slotsPerPod: 2,
  masterUrl: 'http://master:8080',
  contextUrl: 'http://master:8080/api/v1/experiments/2/context',
  entrypoint: 'model.ts:createTrial',
  variables: { MY_VAR: '1', HONE_TASK_TOKEN: 'user cannot override' },
};

describe('the Job of an allocation', () => {
  const job = buildJob(cfg, input);
  const pod = job.spec!.template.spec!;
  const c = pod.containers[0]!;
  const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value ?? e.valueFrom]));

  it('is an Indexed Job of N pods that never retries by itself and is kept a while after finishing', () => {
    expect(job.spec!.completionMode).toBe('Indexed');
    expect(job.spec!.parallelism).toBe(2);
    expect(job.spec!.completions).toBe(2);
    expect(job.spec!.backoffLimit).toBe(0);
    expect(job.spec!.ttlSecondsAfterFinished).toBe(3600);
    expect(pod.restartPolicy).toBe('Never');
    expect(job.metadata!.namespace).toBe('ml');
  });

  it('asks each pod for its GPUs, on the configured nodes, with the priority class', () => {
    expect(c.resources!.limits).toEqual({ 'nvidia.com/gpu': '2' });
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.priorityClassName).toBe('training');
    expect(c.image).toBe('registry.example/hone:1');
  });

  it('gives the pod its task credentials and where to fetch the model, never a service account token', () => {
    // The token is in the allocation's Secret, referenced, never a literal of the Job (nor overridable).
    expect(env.HONE_TASK_TOKEN).toEqual({ secretKeyRef: { name: 'hone-task-a1b2c3d4-e5f6', key: 'token' } });
    expect(c.env!.filter((e) => e.name === 'HONE_TASK_TOKEN')).toHaveLength(1);
    expect(env.HONE_CONTEXT_URL).toBe(input.contextUrl);
    expect(env.HONE_WORLD_SIZE).toBe('4');
    expect(env.HONE_SLOTS_PER_POD).toBe('2');
    expect(env.MY_VAR).toBe('1');
    expect(env.HONE_RING_HOST).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(c.command!.join(' ')).toContain('/opt/hone/master/src/rm/kubernetes/podEntry.ts');
  });

  it('labels the Job and its pods with the allocation', () => {
    for (const l of [job.metadata!.labels!, job.spec!.template.metadata!.labels!]) {
      expect(l['hone.ai/allocation']).toBe('a1b2c3d4-e5f6');
      expect(l['hone.ai/pool']).toBe('gpu');
      expect(l['hone.ai/trial']).toBe('5');
    }
  });

  it('a CPU pool asks for CPUs', () => {
    const cpu = buildJob(parseKubernetesPool(0, 'cpu', { type: 'kubernetes', image: 'i', slot_type: 'cpu' }), { ...input, pods: 4, slotsPerPod: 1 });
    expect(cpu.spec!.template.spec!.containers[0]!.resources!.requests).toEqual({ cpu: '1' });
  });
});

describe('the Secret of an allocation', () => {
  const secret = buildTaskSecret(cfg, { ...input, token: 'task-token-xyz' });
  it('holds the task token, labelled like the Job, in the Job\'s namespace', () => {
    expect(Buffer.from(secret.data!.token!, 'base64').toString()).toBe('task-token-xyz');
    expect(secret.metadata!.name).toBe('hone-task-a1b2c3d4-e5f6');
    expect(secret.metadata!.namespace).toBe('ml');
    expect(secret.metadata!.labels).toEqual(buildJob(cfg, input).metadata!.labels);
    expect(JSON.stringify(buildJob(cfg, input))).not.toContain('task-token-xyz');
  });
  it('is owned by its Job once the Job exists', () => {
    expect(secretOwnerPatch({ name: 'j', uid: 'u-1' }).metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: 'j', uid: 'u-1', blockOwnerDeletion: false }]);
  });
});

describe('pool config', () => {
  it('refuses bad fields, naming them', () => {
    const bad = (rm: Record<string, unknown>) => () => parseKubernetesPool(2, 'p', { type: 'kubernetes', image: 'i', ...rm });
    expect(bad({ slot_type: 'tpu' })).toThrow('resource_pools[2].resource_manager.slot_type: must be gpu or cpu');
    expect(bad({ max_slots_per_pod: 0 })).toThrow('resource_pools[2].resource_manager.max_slots_per_pod');
    expect(bad({ namespace: 'Bad_NS' })).toThrow('resource_pools[2].resource_manager.namespace');
    expect(bad({ tolerations: {} })).toThrow('resource_pools[2].resource_manager.tolerations');
    expect(bad({ tolerations: [{ keyy: 'x' }] })).toThrow('resource_pools[2].resource_manager.tolerations[0].keyy');
    expect(bad({ resync_seconds: 0 })).toThrow('resource_pools[2].resource_manager.resync_seconds');
    expect(bad({ nodeselector: {} })).toThrow('resource_pools[2].resource_manager.nodeselector: unknown key');
    expect(() => parseKubernetesPool(0, 'p', { type: 'kubernetes' })).toThrow('resource_pools[0].resource_manager.image: is required');
  });

  it('splits gangs into equal pods', () => {
    expect(podShape(1, 4)).toEqual({ pods: 1, slotsPerPod: 1 });
    expect(podShape(8, 4)).toEqual({ pods: 2, slotsPerPod: 4 });
    expect(podShape(3, 1)).toEqual({ pods: 3, slotsPerPod: 1 });
    expect(podShape(6, 4)).toHaveProperty('error');
  });
});
