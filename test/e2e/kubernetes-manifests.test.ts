// Every document of every manifest under deploy/kubernetes/ (any depth, .yaml/.yml/.json), and the Job and the
// Secret the Kubernetes resource manager generates (jobSpec.ts), against the Kubernetes schemas
// (kubernetes-models); and the master's RBAC against what the manager calls (apiUse.ts): no more, no less.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as coreV1 from 'kubernetes-models/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseMasterConfig } from '../../master/src/config/masterConfig';
import { parseKubernetesPool } from '../../master/src/rm/kubernetes/config';
import { buildJob, buildTaskSecret } from '../../master/src/rm/kubernetes/jobSpec';
import { CLUSTER_RULES, NAMESPACED_RULES } from '../../master/src/rm/kubernetes/apiUse';
import { ROOT, tmpDir } from '../helpers/processes';
import { startMaster } from '../../master/src/server';

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: any };
const MODELS: Record<string, Record<string, any>> = { 'apps/v1': appsV1, 'batch/v1': batchV1, v1: coreV1, 'rbac.authorization.k8s.io/v1': rbacV1 };
const dir = path.join(ROOT, 'deploy/kubernetes');
const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
const docs: Array<{ file: string; doc: Doc }> = files.flatMap((file) =>
  parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))
    .map((d, i) => {
      if (d.errors.length) throw new Error(`${file}: document ${i + 1}: ${d.errors[0]!.message}`);
      return { file, doc: d.toJS() as Doc };
    })
    // An empty document (a trailing `---`) is no object.
    .filter(({ doc }) => doc !== null && doc !== undefined),
);
/** The schema of an object, or a failure naming it. */
const validate = (where: string, doc: Doc) => {
  const Model = MODELS[doc.apiVersion]?.[doc.kind];
  expect(Model, `${where}: ${doc.apiVersion} ${doc.kind} has no schema here`).toBeTruthy();
  expect(() => new Model(doc).validate(), `${where}: ${doc.kind} ${doc.metadata?.name}`).not.toThrow();
};
const pool = parseKubernetesPool(0, 'k8s', { type: 'kubernetes', namespace: 'hone', max_slots_per_pod: 2, image: 'hone:1', node_selector: { 'nvidia.com/gpu.present': 'true' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }], priority_class: 'training' });
const who = { allocationId: '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d', trialId: 12, experimentId: 3, experimentName: 'Ünïcode & a very long experiment name that goes on and on' };
const generatedJob = buildJob(pool, { ...who, slots: 4, pods: 2, slotsPerPod: 2, masterUrl: 'http://hone-master:8080', contextUrl: 'http://hone-master:8080/api/v1/experiments/3/context', entrypoint: 'model.ts:createTrial', variables: { A: '1' } });
const find = (kind: string, name: string) => docs.find((d) => d.doc.kind === kind && d.doc.metadata.name === name)?.doc;
const sortRules = (rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>) =>
  rules.map((r) => ({ apiGroups: [...r.apiGroups].sort(), resources: [...r.resources].sort(), verbs: [...r.verbs].sort() })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('deploy/kubernetes manifests', () => {
  it('every object is valid against its Kubernetes schema', () => {
    expect(files).toEqual(expect.arrayContaining(['agent-daemonset.yaml', 'master.yaml']));
    // Every document of every file is checked: as many as the files have separators allow.
    for (const file of files) {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      const nonEmpty = text.split(/^---\s*$/m).filter((part) => part.split('\n').some((l) => l.trim() && !l.trim().startsWith('#'))).length;
      expect(docs.filter((d) => d.file === file).length, file).toBe(nonEmpty);
    }
    expect(docs.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of docs) validate(file, doc);
  });

  it('the Job and the Secret the master generates are valid against their schemas', () => {
    validate('jobSpec.ts buildJob', generatedJob as Doc);
    validate('jobSpec.ts buildTaskSecret', buildTaskSecret(pool, { ...who, token: 'x'.repeat(43) }) as Doc);
    // And the Job schema refuses a broken one, so the check above can fail.
    const broken = structuredClone(generatedJob) as any;
    broken.spec.parallelism = 'two';
    expect(() => new batchV1.Job(broken).validate()).toThrow(/parallelism/);
  });

  it('the schemas do refuse a broken object (the check above can fail)', () => {
    const d = structuredClone(find('Deployment', 'hone-master')!);
    delete d.spec.template.spec.containers[0].name;
    expect(() => new appsV1.Deployment(d).validate()).toThrow(/name/);
  });

  it('the master runs as its ServiceAccount with exactly the verbs the Kubernetes manager uses', () => {
    expect(sortRules(find('Role', 'hone-master')!.rules)).toEqual(sortRules(NAMESPACED_RULES));
    expect(sortRules(find('ClusterRole', 'hone-master-nodes')!.rules)).toEqual(sortRules(CLUSTER_RULES));
    const sa = find('ServiceAccount', 'hone-master')!;
    expect(find('Deployment', 'hone-master')!.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    for (const b of [find('RoleBinding', 'hone-master')!, find('ClusterRoleBinding', 'hone-master-nodes')!]) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'hone-master', namespace: 'hone' }]);
    }
  });

  it('the ConfigMap holds a master config the master accepts, and the database URL comes from the Secret', () => {
    const text = find('ConfigMap', 'hone-master-config')!.data['master.yaml'];
    const cfg = parseMasterConfig(text, 'master.yaml', { host: 'string', port: 'string', 'advertised-url': 'string' });
    const k8s = cfg.resourcePools.map((p, i) => ({ p, i })).filter(({ p }) => p.resource_manager.type === 'kubernetes');
    expect(k8s).toHaveLength(1);
    const pool = parseKubernetesPool(k8s[0]!.i, k8s[0]!.p.name, k8s[0]!.p.resource_manager);
    expect(pool.namespace).toBe('hone');
    const master = find('Deployment', 'hone-master')!.spec.template.spec.containers[0];
    expect(master.command).toContain('--config');
    expect(master.env.find((e: any) => e.name === 'HONE_DB_URL').valueFrom.secretKeyRef).toEqual({ name: 'hone', key: 'db-url' });
    expect(find('Secret', 'hone')!.stringData['db-url']).toMatch(/^postgres:\/\//);
  });

  it('a master refuses a Kubernetes pool with a bad field, naming it', async () => {
    const pool = (rm: Record<string, unknown>) => [{ name: 'default', resource_manager: { type: 'agent' } }, { name: 'k8s', resource_manager: { type: 'kubernetes', image: 'hone:1', ...rm } }];
    await expect(startMaster({ dataDir: tmpDir('k8s-config'), port: 0, resourcePools: pool({ slot_type: 'tpu' }) })).rejects.toThrow('resource_pools[1].resource_manager.slot_type: must be gpu or cpu');
    await expect(startMaster({ dataDir: tmpDir('k8s-config'), port: 0, resourcePools: pool({ kubeconfig: '/nonexistent/kubeconfig' }) })).rejects.toThrow(/nonexistent/);
  });
});
