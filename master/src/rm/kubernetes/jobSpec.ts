// The batch/v1 Job of one allocation, pure. One Indexed Job per allocation: parallelism = completions = pods,
// restartPolicy Never and backoffLimit 0 (a failed pod fails the trial's allocation; the master decides about
// retries, from the trial's checkpoint), a TTL after finishing so exit codes survive a master outage. Each pod
// runs `slotsPerPod` ranks (pod index i runs ranks i*slotsPerPod ...); it fetches the model directory from the
// master with the allocation's task token — the image holds Hone, never the user's code or any credential.
// The token itself lives in a Secret of the allocation (buildTaskSecret), which the pods' env references
// (secretKeyRef): it never appears in the Job, whose spec anyone with `get jobs` can read.
import type { V1EnvVar, V1Job, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import type { KubernetesPoolConfig } from './config';
import { allocationLabels, jobName, secretName } from './naming';

export interface JobInput {
  allocationId: string;
  trialId: number;
  experimentId: number;
  experimentName: string;
  slots: number;
  pods: number;
  slotsPerPod: number;
  masterUrl: string;
  contextUrl: string;
  entrypoint: string;
  /** The experiment's `environment.variables`. */
  variables: Record<string, string>;
}

/** The key of the task token in the allocation's Secret. */
export const TOKEN_KEY = 'token';

/** The Secret of one allocation: its task token, labelled as its Job is. */
export function buildTaskSecret(cfg: KubernetesPoolConfig, a: Pick<JobInput, 'allocationId' | 'trialId' | 'experimentId' | 'experimentName'> & { token: string }): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName(a.allocationId),
      namespace: cfg.namespace,
      labels: allocationLabels({ pool: cfg.pool, experimentId: a.experimentId, experimentName: a.experimentName, trialId: a.trialId, allocationId: a.allocationId }),
    },
    type: 'Opaque',
    immutable: true,
    data: { [TOKEN_KEY]: Buffer.from(a.token, 'utf8').toString('base64') },
  };
}

/**
 * The merge patch making the Job the Secret's owner, so Kubernetes' garbage collector deletes the Secret with
 * the Job (the Secret is created first, so that no pod ever starts without it; the Job's uid exists only once
 * the Job does).
 */
export function secretOwnerPatch(job: { name: string; uid: string }): { metadata: { ownerReferences: V1OwnerReference[] } } {
  return { metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.name, uid: job.uid, blockOwnerDeletion: false }] } };
}

/** The container's name in every pod. */
export const CONTAINER = 'trial';
/** The script a pod runs, relative to the Hone checkout in the image. */
export const POD_ENTRY = 'master/src/rm/kubernetes/podEntry.ts';

export function buildJob(cfg: KubernetesPoolConfig, a: JobInput): V1Job {
  const labels = allocationLabels({ pool: cfg.pool, experimentId: a.experimentId, experimentName: a.experimentName, trialId: a.trialId, allocationId: a.allocationId });
  const ours: Record<string, string> = {
    HONE_MASTER_URL: a.masterUrl,
    HONE_ALLOCATION_ID: a.allocationId,
    HONE_TRIAL_ID: String(a.trialId),
    HONE_EXPERIMENT_ID: String(a.experimentId),
    HONE_WORLD_SIZE: String(a.slots),
    HONE_SLOTS_PER_POD: String(a.slotsPerPod),
    HONE_ENTRYPOINT: a.entrypoint,
    HONE_CONTEXT_URL: a.contextUrl,
    HONE_ROOT: cfg.honeRoot,
  };
  const env: V1EnvVar[] = [
    ...Object.entries(a.variables).filter(([k]) => !(k in ours) && k !== 'HONE_TASK_TOKEN').map(([name, value]) => ({ name, value })),
    ...Object.entries(ours).map(([name, value]) => ({ name, value })),
    { name: 'HONE_TASK_TOKEN', valueFrom: { secretKeyRef: { name: secretName(a.allocationId), key: TOKEN_KEY } } },
    // Ranks of other pods reach this one at its pod IP (posted to the master's rendezvous).
    { name: 'HONE_RING_HOST', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  ];
  const quantity = String(a.slotsPerPod);
  const resource = cfg.slotType === 'gpu' ? 'nvidia.com/gpu' : 'cpu';
  const resources = { limits: { [resource]: quantity }, requests: { [resource]: quantity } };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName(a), namespace: cfg.namespace, labels, annotations: { 'hone.ai/experiment-name': a.experimentName } },
    spec: {
      completionMode: 'Indexed',
      parallelism: a.pods,
      completions: a.pods,
      backoffLimit: 0,
      ttlSecondsAfterFinished: cfg.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          ...(Object.keys(cfg.nodeSelector).length ? { nodeSelector: cfg.nodeSelector } : {}),
          ...(cfg.tolerations.length ? { tolerations: cfg.tolerations as NonNullable<NonNullable<V1Job['spec']>['template']['spec']>['tolerations'] } : {}),
          ...(cfg.priorityClass ? { priorityClassName: cfg.priorityClass } : {}),
          containers: [
            {
              name: CONTAINER,
              image: cfg.image,
              workingDir: cfg.honeRoot,
              command: ['node', '--import', 'tsx', `${cfg.honeRoot}/${POD_ENTRY}`],
              env,
              resources,
            },
          ],
        },
      },
    },
  };
}
