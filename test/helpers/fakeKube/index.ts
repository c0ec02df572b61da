// A master whose `default` pool runs trials as pods on a fake Kubernetes cluster (see cluster.ts).
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startMasterProcess, tmpDir, type MasterProc } from '../processes';
import { FakeCluster, type FakeNode } from './cluster';

export { FakeCluster, type FakeNode } from './cluster';
export { FakeApiServer } from './apiServer';

export interface KubeSetup {
  cluster: FakeCluster;
  master: MasterProc;
  dataDir: string;
  configFile: string;
  /** Starts the master again on the same port (after a kill). */
  restartMaster(): Promise<MasterProc>;
  close(): Promise<void>;
}

/** The environment of the "image": what Node and the harness need, never the test runner's secrets. */
export function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'HONE_TF_BACKEND']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

export async function startKubeMaster(opts: { nodes: FakeNode[]; pool?: Record<string, unknown>; args?: string[]; dbUrl?: string }): Promise<KubeSetup> {
  const cluster = new FakeCluster({ baseEnv: imageEnv() });
  await cluster.start(opts.nodes);
  const dataDir = tmpDir('kube');
  const kubeconfig = cluster.writeKubeconfig(path.join(dataDir, 'kubeconfig'));
  const rm = { type: 'kubernetes', namespace: 'default', max_slots_per_pod: 1, slot_type: 'gpu', image: 'hone:test', kubeconfig, hone_root: ROOT, ...(opts.pool ?? {}) };
  const configFile = path.join(dataDir, 'master.yaml');
  fs.writeFileSync(configFile, `resource_pools:\n  - name: default\n    resource_manager: ${JSON.stringify(rm)}\n`);
  const start = (port?: number) =>
    startMasterProcess({ dataDir: path.join(dataDir, 'master'), ...(opts.dbUrl ? { dbUrl: opts.dbUrl } : {}), ...(port ? { port } : {}), args: ['--config', configFile, ...(opts.args ?? [])] });
  const setup: KubeSetup = {
    cluster,
    master: await start(),
    dataDir,
    configFile,
    async restartMaster() {
      setup.master = await start(setup.master.port);
      return setup.master;
    },
    async close() {
      await setup.master.kill();
      await cluster.close();
    },
  };
  return setup;
}
