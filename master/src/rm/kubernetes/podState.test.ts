import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { podIndex, podRanks, podSlots, viewPod } from './podState';

const pod = (status: V1Pod['status'], labels: Record<string, string> = { 'batch.kubernetes.io/job-completion-index': '1' }): V1Pod => ({
  metadata: { name: 'p', labels },
  spec: { containers: [{ name: 'trial', resources: { limits: { 'nvidia.com/gpu': '2' } } }] },
  status,
});

describe('pod state → rank observations', () => {
  it('pending and scheduled pods wait; a running container runs', () => {
    expect(viewPod(pod({ phase: 'Pending' }))).toEqual({ kind: 'waiting' });
    expect(viewPod(pod({ phase: 'Pending', containerStatuses: [{ name: 't', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }))).toEqual({ kind: 'waiting' });
    expect(viewPod(pod({ phase: 'Running', containerStatuses: [{ name: 't', image: 'i', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }))).toEqual({ kind: 'running' });
  });

  it('succeeded and failed pods exit with their container exit code; OOMKilled and evictions say so', () => {
    expect(viewPod(pod({ phase: 'Succeeded' }))).toEqual({ kind: 'exited', exitCode: 0 });
    const term = (exitCode: number, reason: string) => pod({ phase: 'Failed', containerStatuses: [{ name: 't', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } }] });
    expect(viewPod(term(1, 'Error'))).toEqual({ kind: 'exited', exitCode: 1 });
    expect(viewPod(term(137, 'OOMKilled'))).toEqual({ kind: 'exited', exitCode: 137, reason: 'OOMKilled' });
    expect(viewPod(pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }))).toEqual({ kind: 'exited', exitCode: null, reason: 'Evicted: The node was low on resource: memory.' });
  });

  it('a deleted pod that was not seen to finish was killed', () => {
    expect(viewPod(pod({ phase: 'Running' }), true)).toEqual({ kind: 'exited', exitCode: null, reason: 'pod deleted' });
    expect(viewPod(pod({ phase: 'Succeeded' }), true)).toEqual({ kind: 'exited', exitCode: 0 });
  });

  it('an image that cannot be pulled, or a bad container config, is stuck with its reason', () => {
    const waiting = (reason: string, message: string) => pod({ phase: 'Pending', containerStatuses: [{ name: 't', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } }] });
    expect(viewPod(waiting('ImagePullBackOff', 'Back-off pulling image "x"'))).toEqual({ kind: 'stuck', reason: 'ImagePullBackOff: Back-off pulling image "x"' });
    expect(viewPod(waiting('CreateContainerConfigError', 'secret "s" not found'))).toEqual({ kind: 'stuck', reason: 'CreateContainerConfigError: secret "s" not found' });
    // ErrImagePull may be transient: the kubelet retries before backing off.
    expect(viewPod(waiting('ErrImagePull', 'timeout'))).toEqual({ kind: 'waiting' });
  });

  it('pod index, ranks and slots', () => {
    expect(podIndex(pod({}))).toBe(1);
    expect(podIndex(pod({}, {}))).toBeNull();
    expect(podRanks(1, 2)).toEqual([2, 3]);
    expect(podRanks(3, 1)).toEqual([3]);
    expect(podSlots(pod({}), 'gpu')).toBe(2);
    expect(podSlots(pod({}), 'cpu')).toBe(0);
  });
});
