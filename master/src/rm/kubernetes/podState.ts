// What a pod says about the ranks it runs, pure: the pod's phase and container status → running, exited (with a
// code, null for a signal or a vanished pod), a reason to fail the allocation now (an image that cannot be pulled
// never will be; waiting on it would hang the trial), or nothing yet.
import type { V1Pod } from '@kubernetes/client-node';
import { COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_LABEL, LABELS } from './naming';

export type PodView =
  | { kind: 'waiting' }
  | { kind: 'running' }
  | { kind: 'exited'; exitCode: number | null; reason?: string }
  /** Will not start: fail the allocation with this reason. */
  | { kind: 'stuck'; reason: string };

/** Waiting reasons that never resolve by themselves. */
export const FATAL_WAITING = ['ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError'];

export function podIndex(pod: V1Pod): number | null {
  const v = pod.metadata?.labels?.[COMPLETION_INDEX_LABEL] ?? pod.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION];
  const n = Number(v);
  return v !== undefined && Number.isInteger(n) && n >= 0 ? n : null;
}

export function podAllocation(pod: V1Pod): string | null {
  return pod.metadata?.labels?.[LABELS.allocation] ?? null;
}

/** The pod's state; `deleted`: the pod is gone (an exit we did not see is a kill). */
export function viewPod(pod: V1Pod, deleted = false): PodView {
  const status = pod.status ?? {};
  const cs = status.containerStatuses?.[0];
  const term = cs?.state?.terminated;
  if (status.phase === 'Succeeded') return { kind: 'exited', exitCode: term?.exitCode ?? 0 };
  if (status.phase === 'Failed') {
    const reason = term?.reason && term.reason !== 'Error' ? term.reason : status.reason;
    return { kind: 'exited', exitCode: term ? term.exitCode : null, ...(reason ? { reason: status.message && !term ? `${reason}: ${status.message}` : reason } : {}) };
  }
  if (deleted) return { kind: 'exited', exitCode: term ? term.exitCode : null, reason: term?.reason ?? 'pod deleted' };
  const waiting = cs?.state?.waiting;
  if (waiting?.reason && FATAL_WAITING.includes(waiting.reason)) return { kind: 'stuck', reason: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  if (status.phase === 'Running' && cs?.state?.running) return { kind: 'running' };
  return { kind: 'waiting' };
}

/** The ranks a pod runs. */
export function podRanks(index: number, slotsPerPod: number): number[] {
  const per = Math.max(1, slotsPerPod);
  return Array.from({ length: per }, (_, i) => index * per + i);
}

/** Slots a pod asks for (its container's requests of the pool's resource), to count against a node. */
export function podSlots(pod: V1Pod, slotType: 'gpu' | 'cpu'): number {
  let n = 0;
  for (const c of pod.spec?.containers ?? []) {
    const r = { ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) } as Record<string, string>;
    n += parseQuantity(r[slotType === 'gpu' ? 'nvidia.com/gpu' : 'cpu']);
  }
  return n;
}

/** A Kubernetes quantity as a number of whole units ("2", "500m" → 0.5, "1k"). */
export function parseQuantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi)?$/.exec(q.trim());
  if (!m) return 0;
  const v = Number(m[1]);
  const mult: Record<string, number> = { m: 0.001, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3 };
  return m[2] ? v * mult[m[2]]! : v;
}
