// Names and labels of the Kubernetes objects of an allocation. Kubernetes names are DNS-1123 labels (at most 63
// lowercase letters, digits and '-'); label values are at most 63 of [A-Za-z0-9._-], starting and ending with an
// alphanumeric. Experiment names are anything a user typed, so they are folded into that alphabet and, when cut,
// keep a short hash so two long names stay apart. Pure.
import crypto from 'node:crypto';

export const LABELS = {
  managed: 'hone.ai/managed-by',
  pool: 'hone.ai/pool',
  experiment: 'hone.ai/experiment',
  experimentName: 'hone.ai/experiment-name',
  trial: 'hone.ai/trial',
  allocation: 'hone.ai/allocation',
  /**
   * The first rank a pod runs (index × slots per pod; its ranks are that and the next slots per pod − 1). One
   * Job template serves every pod, so the template cannot carry it: the master patches each pod with it as soon
   * as its watch sees the pod (rankLabelPatch).
   */
  rank: 'hone.ai/rank',
} as const;

/**
 * Kubernetes sets this label (and annotation) on each pod of an Indexed Job: the pod's index, 0..pods-1; its
 * ranks are index * slots per pod ... . What the master reads a pod's ranks from (it is there from the pod's
 * creation; `hone.ai/rank` follows a moment later).
 */
export const COMPLETION_INDEX_LABEL = 'batch.kubernetes.io/job-completion-index';
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const MANAGED_BY = 'hone-master';

/** Longest Job name: its pods are named `<job>-<index>-<5 random>`, which must stay a valid 63-character hostname. */
export const MAX_JOB_NAME = 50;

const hash = (s: string, n: number) => crypto.createHash('sha256').update(s).digest('hex').slice(0, n);

/** A DNS-1123 label built from `s`: lowercase, invalid runs become '-', trimmed; '' when nothing is left. */
export function dnsSlug(s: string, max: number): string {
  let out = s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (out.length > max) out = out.slice(0, max).replace(/-+$/, '');
  return out;
}

/** A valid label value for any string: folded, cut to 63 with a hash of the whole when too long or changed. */
export function labelValue(s: string): string {
  const folded = s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (folded === s && s.length <= 63) return s;
  const h = hash(s, 8);
  const head = folded.slice(0, 63 - h.length - 1).replace(/[^A-Za-z0-9]+$/, '');
  return head ? `${head}-${h}` : h;
}

/** The Job of an allocation: `hone-<experiment name>-<trial>-<allocation>`, unique by the allocation id. */
export function jobName(a: { experimentName: string; trialId: number; allocationId: string }): string {
  const tail = `-t${a.trialId}-${dnsSlug(a.allocationId, 63).replace(/-/g, '').slice(0, 8) || hash(a.allocationId, 8)}`;
  const room = MAX_JOB_NAME - 'hone-'.length - tail.length;
  const slug = room > 0 ? dnsSlug(a.experimentName, room) : '';
  return `hone${slug ? `-${slug}` : ''}${tail}`.slice(0, MAX_JOB_NAME).replace(/-+$/, '');
}

export interface AllocationLabels {
  pool: string;
  experimentId: number;
  experimentName: string;
  trialId: number;
  allocationId: string;
}

export function allocationLabels(a: AllocationLabels): Record<string, string> {
  return {
    [LABELS.managed]: MANAGED_BY,
    [LABELS.pool]: labelValue(a.pool),
    [LABELS.experiment]: String(a.experimentId),
    [LABELS.experimentName]: labelValue(a.experimentName),
    [LABELS.trial]: String(a.trialId),
    [LABELS.allocation]: labelValue(a.allocationId),
  };
}

/**
 * The Secret holding an allocation's task token (`hone-task-<allocation>`): named by the allocation alone, so the
 * master can delete it knowing only the id. Secret names are DNS subdomains; this stays a 63-character label.
 */
export function secretName(allocationId: string): string {
  const slug = dnsSlug(allocationId, 40);
  return `hone-task-${slug && slug === allocationId ? slug : `${slug ? `${slug.slice(0, 31)}-` : ''}${hash(allocationId, 8)}`}`;
}

/**
 * The merge patch that labels a pod with its first rank, or null when it already has the right one (or is not
 * a pod of an Indexed Job).
 */
export function rankLabelPatch(labels: Record<string, string> | undefined, slotsPerPod: number): { metadata: { labels: Record<string, string> } } | null {
  const v = labels?.[COMPLETION_INDEX_LABEL];
  const index = Number(v);
  if (v === undefined || !Number.isInteger(index) || index < 0) return null;
  const rank = String(index * Math.max(1, slotsPerPod));
  return labels?.[LABELS.rank] === rank ? null : { metadata: { labels: { [LABELS.rank]: rank } } };
}

/** The label selector of a pool's objects. */
export function poolSelector(pool: string): string {
  return `${LABELS.managed}=${MANAGED_BY},${LABELS.pool}=${labelValue(pool)}`;
}
