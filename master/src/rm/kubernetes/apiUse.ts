// Every Kubernetes API call the Kubernetes resource manager makes, as RBAC rules: the Role and ClusterRole of
// deploy/kubernetes/master.yaml grant exactly these (a test compares them, and the e2e tests check that every
// request the master sent to the fake API server is covered).
export interface ApiRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** In the pool's namespace. */
export const NAMESPACED_RULES: ApiRule[] = [
  // One Job per allocation: created at admission, deleted when it ends or is orphaned; the informer lists and watches.
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'delete', 'list', 'watch'] },
  // Pod phases, exit codes and GPUs in use; each pod patched with its `hone.ai/rank` label; logs followed into
  // the trial log.
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch', 'patch'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  // One Secret per allocation with its task token: created before its Job, patched to be owned by it, deleted
  // with it; listed after a restart to delete orphans.
  { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'patch', 'delete', 'list'] },
  // FailedScheduling, BackOff, ... into the trial log.
  { apiGroups: [''], resources: ['events'], verbs: ['list', 'watch'] },
];

/** Cluster-wide: Nodes' allocatable GPUs are the pool's capacity. */
export const CLUSTER_RULES: ApiRule[] = [{ apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch'] }];

/** The RBAC verb and resource of one HTTP request to the API server (`resource` as in a rule: `pods/log`). */
export function requestRule(method: string, pathAndQuery: string): { group: string; resource: string; verb: string } | null {
  const url = new URL(pathAndQuery, 'http://x');
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([a-z]+)(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(url.pathname);
  if (!m) return null;
  const [, group = '', plural, name, sub] = m;
  const resource = sub ? `${plural}/${sub}` : plural!;
  const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  const verb =
    method === 'GET' ? (name ? 'get' : watch ? 'watch' : 'list') : method === 'POST' ? 'create' : method === 'DELETE' ? (name ? 'delete' : 'deletecollection') : method === 'PATCH' ? 'patch' : 'update';
  return { group, resource, verb };
}

/** Whether the rules allow a request. */
export function allowed(rules: ApiRule[], r: { group: string; resource: string; verb: string }): boolean {
  return rules.some((x) => x.apiGroups.includes(r.group) && x.resources.includes(r.resource) && x.verbs.includes(r.verb));
}
