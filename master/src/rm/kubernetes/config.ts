// The `resource_manager` block of a Kubernetes pool in master.yaml, checked once at start-up. Errors name the
// field (`resource_pools[i].resource_manager.<field>`) and what was expected. Pure: no file or API access.

/** A checked Kubernetes pool: how its trials become Jobs. */
export interface KubernetesPoolConfig {
  pool: string;
  namespace: string;
  /** Slots (GPUs or CPUs) one pod gets; a trial of N slots runs N / max_slots_per_pod pods. */
  maxSlotsPerPod: number;
  slotType: 'gpu' | 'cpu';
  image: string;
  nodeSelector: Record<string, string>;
  tolerations: Array<Record<string, unknown>>;
  priorityClass?: string;
  /** Kubeconfig file; absent: in-cluster service account, else KUBECONFIG / ~/.kube/config. */
  kubeconfig?: string;
  /** Where the image holds the Hone checkout (harness and its node_modules). */
  honeRoot: string;
  /** Seconds a finished Job is kept (its exit codes stay readable across a master outage). */
  ttlSecondsAfterFinished: number;
  /** Seconds between resyncs: every cache re-listed and compared, so a transition the watch missed is recovered. */
  resyncSeconds: number;
}

const KNOWN = ['type', 'namespace', 'max_slots_per_pod', 'slot_type', 'image', 'node_selector', 'tolerations', 'priority_class', 'kubeconfig', 'hone_root', 'ttl_seconds_after_finished', 'resync_seconds'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TOLERATION_KEYS = ['key', 'operator', 'value', 'effect', 'tolerationSeconds'];

export function parseKubernetesPool(index: number, pool: string, rm: Record<string, unknown>): KubernetesPoolConfig {
  const at = (f: string) => `resource_pools[${index}].resource_manager.${f}`;
  const fail = (f: string, msg: string): never => {
    throw new Error(`${at(f)}: ${msg}`);
  };
  for (const k of Object.keys(rm)) if (!KNOWN.includes(k)) fail(k, `unknown key (known: ${KNOWN.join(', ')})`);
  const str = (f: string, required: boolean): string | undefined => {
    const v = rm[f];
    if (v === undefined || v === null) return required ? fail(f, 'is required') : undefined;
    if (typeof v !== 'string' || !v) return fail(f, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  const namespace = str('namespace', false) ?? 'default';
  if (!DNS_LABEL.test(namespace)) fail('namespace', `"${namespace}" is not a valid namespace (lowercase letters, digits and '-', at most 63)`);
  const image = str('image', true)!;
  const maxSlots = rm.max_slots_per_pod ?? 1;
  if (typeof maxSlots !== 'number' || !Number.isInteger(maxSlots) || maxSlots < 1 || maxSlots > 64) fail('max_slots_per_pod', `must be an integer from 1 to 64, got ${JSON.stringify(maxSlots)}`);
  const slotType = rm.slot_type ?? 'gpu';
  if (slotType !== 'gpu' && slotType !== 'cpu') fail('slot_type', `must be gpu or cpu, got ${JSON.stringify(slotType)}`);
  const ns = rm.node_selector ?? {};
  if (typeof ns !== 'object' || Array.isArray(ns) || ns === null) fail('node_selector', 'must be a mapping of label to value');
  const nodeSelector: Record<string, string> = {};
  for (const [k, v] of Object.entries(ns as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`node_selector.${k}`, 'must be a string');
    nodeSelector[k] = String(v);
  }
  const tol = rm.tolerations ?? [];
  if (!Array.isArray(tol)) fail('tolerations', 'must be a list of tolerations ({key, operator, value, effect})');
  const tolerations = (tol as unknown[]).map((t, i) => {
    if (!t || typeof t !== 'object' || Array.isArray(t)) return fail(`tolerations[${i}]`, 'must be a mapping');
    for (const k of Object.keys(t)) if (!TOLERATION_KEYS.includes(k)) fail(`tolerations[${i}].${k}`, `unknown key (known: ${TOLERATION_KEYS.join(', ')})`);
    return t as Record<string, unknown>;
  });
  const priorityClass = str('priority_class', false);
  if (priorityClass && !DNS_SUBDOMAIN.test(priorityClass)) fail('priority_class', `"${priorityClass}" is not a valid PriorityClass name`);
  const ttl = rm.ttl_seconds_after_finished ?? 3600;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0) fail('ttl_seconds_after_finished', `must be a non-negative integer, got ${JSON.stringify(ttl)}`);
  const resync = rm.resync_seconds ?? 30;
  if (typeof resync !== 'number' || !(resync >= 1) || resync > 86_400) fail('resync_seconds', `must be a number of seconds from 1 to 86400, got ${JSON.stringify(resync)}`);
  const kubeconfig = str('kubeconfig', false);
  const honeRoot = str('hone_root', false) ?? '/opt/hone';
  if (!honeRoot.startsWith('/')) fail('hone_root', `must be an absolute path inside the image, got "${honeRoot}"`);
  return {
    pool,
    namespace,
    maxSlotsPerPod: maxSlots as number,
    slotType: slotType as 'gpu' | 'cpu',
    image,
    nodeSelector,
    tolerations,
    ...(priorityClass ? { priorityClass } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    honeRoot,
    ttlSecondsAfterFinished: ttl as number,
    resyncSeconds: resync as number,
  };
}

/** How a gang of `slots` splits into pods: equal pods of at most max_slots_per_pod each, or a refusal. */
export function podShape(slots: number, maxSlotsPerPod: number): { pods: number; slotsPerPod: number } | { error: string } {
  if (slots <= maxSlotsPerPod) return { pods: 1, slotsPerPod: Math.max(slots, 0) };
  if (slots % maxSlotsPerPod !== 0) return { error: `slots_per_trial ${slots} must be a multiple of the pool's max_slots_per_pod ${maxSlotsPerPod} (pods of one Job are alike)` };
  return { pods: slots / maxSlotsPerPod, slotsPerPod: maxSlotsPerPod };
}
