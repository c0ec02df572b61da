// A fake Kubernetes cluster for tests: the fake API server (apiServer.ts) plus what a cluster does with the
// objects — the Job controller (Indexed Jobs: one pod per completion index, backoffLimit, TTL after finishing,
// pods deleted with their Job), the garbage collector (objects whose ownerReferences name a deleted object go
// too, unless the delete orphans them), a scheduler that binds pods to nodes with enough GPUs (or records a
// FailedScheduling event), and a kubelet that runs each pod's container command as a real local process with the
// pod's environment (values, fieldRefs, and secretKeyRefs: a missing Secret or key leaves the container waiting
// in CreateContainerConfigError), keeps its output as the pod log and reports its exit in the container status.
// Faults: image pull errors, evictions, OOMKilled, node loss; and from the API server, dropped watches, 410 and
// 500s.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { clone, FakeApiServer, type Obj, type WatchType } from './apiServer';

export interface FakeNode {
  name: string;
  gpus: number;
  cpus?: number;
  labels?: Record<string, string>;
}

interface Container {
  pod: string;
  ns: string;
  child: ChildProcess | null;
  lines: Array<{ ts: string; line: string }>;
  followers: Set<http.ServerResponse>;
  done: boolean;
  oom: boolean;
}

const INDEX = 'batch.kubernetes.io/job-completion-index';

export class FakeCluster {
  readonly api = new FakeApiServer();
  private readonly containers = new Map<string, Container>();
  private readonly pullFailures = new Map<string, string>();
  private readonly ttlTimers = new Set<NodeJS.Timeout>();
  /** Seconds a deleted pod's process gets between SIGTERM and SIGKILL (the real default is 30). */
  gracePeriodS = 10;
  private workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fakekube-'));
  private scheduling = false;
  private closed = false;
  /** Every pod ever created, for assertions (name → final phase or 'deleted'). */
  readonly podHistory = new Map<string, string>();
  /** Every pod ever created → its labels as last seen (patches included), for assertions. */
  readonly podLabels = new Map<string, Record<string, string>>();
  /** Every Job ever created, as created (for assertions about what a Job may hold). */
  readonly jobsCreated: Obj[] = [];
  /** Every Secret ever created, as stored. */
  readonly secretsCreated: Obj[] = [];

  constructor(private readonly opts: { baseEnv?: Record<string, string> } = {}) {
    this.api.onChange = (plural, type, obj) => this.onChange(plural, type, obj);
    this.api.onDelete = (plural, ns, name, q) => this.delete(plural, ns, name, q);
    this.api.podLog = (ns, name, q, res) => this.podLog(ns, name, q, res);
  }

  async start(nodes: FakeNode[]): Promise<string> {
    await this.api.listen();
    for (const n of nodes) this.addNode(n);
    return this.api.url;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.ttlTimers) clearTimeout(t);
    for (const c of this.containers.values()) if (c.child && c.child.exitCode === null) c.child.kill('SIGKILL');
    await this.api.close();
    fs.rmSync(this.workRoot, { recursive: true, force: true });
  }

  /** A kubeconfig file pointing at this cluster (what the master's `kubeconfig:` names). */
  writeKubeconfig(file: string): string {
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake\n  cluster:\n    server: ${this.api.url}\n    insecure-skip-tls-verify: true`,
        'users:',
        '- name: hone\n  user:\n    token: fake-token',
        'contexts:',
        '- name: fake\n  context:\n    cluster: fake\n    user: hone\n    namespace: default',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return file;
  }

  addNode(n: FakeNode): void {
    const cap = { 'nvidia.com/gpu': String(n.gpus), cpu: String(n.cpus ?? 16), memory: '64Gi', pods: '110' };
    this.api.create('nodes', {
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, ...(n.labels ?? {}) } },
      spec: {},
      status: { capacity: cap, allocatable: cap, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }], addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] },
    });
  }

  // ---- faults ----

  /** Pods of this image cannot pull it: ErrImagePull, then ImagePullBackOff with `message`. */
  failImagePull(image: string, message = `Back-off pulling image "${image}"`): void {
    this.pullFailures.set(image, message);
  }

  /** Pulls of this image work again. */
  allowImagePull(image: string): void {
    this.pullFailures.delete(image);
  }

  /** The kubelet evicts the pod: its process is killed, the pod fails with reason Evicted. */
  evict(pod: string, ns = 'default'): void {
    const c = this.containers.get(`${ns}/${pod}`);
    this.api.update('pods', ns, pod, (o) => {
      o.status.phase = 'Failed';
      o.status.reason = 'Evicted';
      o.status.message = 'The node was low on resource: memory.';
    });
    this.event(ns, pod, 'Warning', 'Evicted', 'The node was low on resource: memory.');
    if (c) {
      c.done = true;
      c.child?.kill('SIGKILL');
    }
  }

  /** The container is OOM-killed: exit 137, reason OOMKilled. */
  oomKill(pod: string, ns = 'default'): void {
    const c = this.containers.get(`${ns}/${pod}`);
    if (!c?.child) return;
    c.oom = true;
    c.child.kill('SIGKILL');
  }

  /** The node disappears: its pods' processes die and the pods fail (NodeLost), then the Node object goes. */
  loseNode(name: string): void {
    for (const p of this.api.list('pods')) {
      if (p.spec.nodeName !== name) continue;
      const c = this.containers.get(`${p.metadata.namespace}/${p.metadata.name}`);
      if (c) c.done = true;
      c?.child?.kill('SIGKILL');
      this.api.update('pods', p.metadata.namespace, p.metadata.name, (o) => {
        o.status.phase = 'Failed';
        o.status.reason = 'NodeLost';
        o.status.message = `Node ${name} which was running pod ${p.metadata.name} is unresponsive`;
      });
    }
    this.api.remove('nodes', undefined, name);
  }

  /** Pods, Jobs and Secrets that exist now (for the no-leak checks). */
  leftovers(ns = 'default'): { jobs: string[]; pods: string[]; secrets: string[] } {
    const names = (plural: string) => this.api.list(plural, ns).map((o) => o.metadata.name as string);
    return { jobs: names('jobs'), pods: names('pods'), secrets: names('secrets') };
  }

  /** Pods running a live process now. */
  runningPods(ns = 'default'): Obj[] {
    return this.api.list('pods', ns).filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
  }

  // ---- controllers ----

  private onChange(plural: string, type: WatchType, obj: Obj): void {
    if (this.closed) return;
    if (plural === 'pods' && type !== 'DELETED') this.podLabels.set(obj.metadata.name, { ...(obj.metadata.labels ?? {}) });
    if (plural === 'jobs' && type === 'ADDED') this.jobsCreated.push(clone(obj));
    if (plural === 'secrets' && type === 'ADDED') this.secretsCreated.push(clone(obj));
    if (plural === 'jobs' && type === 'ADDED') this.createJobPods(obj);
    if (plural === 'pods' && type !== 'ADDED') this.updateJobStatus(obj);
    if (plural === 'pods' || plural === 'nodes') this.scheduleSoon();
  }

  private event(ns: string, pod: string, type: string, reason: string, message: string): void {
    const name = `${pod}.${crypto.randomBytes(6).toString('hex')}`;
    const now = new Date().toISOString();
    this.api.create('events', { metadata: { name, namespace: ns }, involvedObject: { kind: 'Pod', name: pod, namespace: ns }, type, reason, message, count: 1, firstTimestamp: now, lastTimestamp: now, source: { component: 'fake-kubelet' } });
  }

  private createJobPods(job: Obj): void {
    const ns = job.metadata.namespace;
    const n = job.spec.completions ?? 1;
    for (let i = 0; i < n; i++) {
      const tpl = clone(job.spec.template);
      const name = `${job.metadata.name}-${i}-${crypto.randomBytes(3).toString('hex').slice(0, 5)}`;
      for (const c of tpl.spec.containers) c.env = [...(c.env ?? []), { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${INDEX}']` } } }];
      this.api.create('pods', {
        metadata: {
          name,
          namespace: ns,
          labels: { ...(tpl.metadata?.labels ?? {}), 'job-name': job.metadata.name, 'batch.kubernetes.io/job-name': job.metadata.name, [INDEX]: String(i), 'controller-uid': job.metadata.uid },
          annotations: { [INDEX]: String(i) },
          ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true }],
        },
        spec: tpl.spec,
        status: { phase: 'Pending' },
      });
      this.podHistory.set(name, 'Pending');
    }
    this.api.update('jobs', ns, job.metadata.name, (o) => (o.status = { active: n, startTime: new Date().toISOString() }));
  }

  private updateJobStatus(pod: Obj): void {
    const jobName = pod.metadata.labels?.['job-name'];
    const ns = pod.metadata.namespace;
    const job = jobName ? this.api.get('jobs', ns, jobName) : undefined;
    if (!job || job.status?.completionTime || job.status?.conditions?.some((c: { type: string }) => c.type === 'Failed')) return;
    const pods = this.api.list('pods', ns).filter((p) => p.metadata.labels?.['job-name'] === jobName);
    const succeeded = pods.filter((p) => p.status.phase === 'Succeeded').length;
    const failed = pods.filter((p) => p.status.phase === 'Failed').length;
    const active = pods.length - succeeded - failed;
    const now = new Date().toISOString();
    const failedJob = failed > (job.spec.backoffLimit ?? 6);
    const complete = succeeded >= (job.spec.completions ?? 1);
    this.api.update('jobs', ns, jobName, (o) => {
      o.status = { ...o.status, active, succeeded, failed };
      if (complete) {
        o.status.completionTime = now;
        o.status.conditions = [{ type: 'Complete', status: 'True', lastTransitionTime: now }];
      } else if (failedJob) {
        o.status.conditions = [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', lastTransitionTime: now }];
      }
    });
    // A failed Job's other pods are terminated, as the real Job controller does.
    if (failedJob) for (const p of pods) if (p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed') this.deletePod(ns, p.metadata.name, this.gracePeriodS);
    if ((complete || failedJob) && job.spec.ttlSecondsAfterFinished !== undefined) {
      const t = setTimeout(() => {
        this.ttlTimers.delete(t);
        if (!this.closed && this.api.get('jobs', ns, jobName!)) this.delete('jobs', ns, jobName!, new URLSearchParams({ propagationPolicy: 'Background' }));
      }, job.spec.ttlSecondsAfterFinished * 1000);
      this.ttlTimers.add(t);
    }
  }

  private delete(plural: string, ns: string | undefined, name: string, q: URLSearchParams): Obj | undefined {
    if (plural === 'pods') return this.deletePod(ns!, name, Number(q.get('gracePeriodSeconds') ?? this.gracePeriodS));
    const o = this.api.remove(plural, ns, name);
    if (plural === 'jobs' && q.get('propagationPolicy') !== 'Orphan') {
      for (const p of this.api.list('pods', ns)) if (p.metadata.labels?.['job-name'] === name) this.deletePod(ns!, p.metadata.name, Number(q.get('gracePeriodSeconds') ?? this.gracePeriodS));
    }
    if (o && q.get('propagationPolicy') !== 'Orphan') this.collectGarbage(o);
    return o;
  }

  /** The garbage collector: Secrets and ConfigMaps owned by a deleted object go with it. */
  private collectGarbage(owner: Obj): void {
    for (const plural of ['secrets', 'configmaps']) {
      for (const o of this.api.list(plural, owner.metadata.namespace)) {
        if ((o.metadata.ownerReferences ?? []).some((r: { uid?: string }) => r.uid === owner.metadata.uid)) this.api.remove(plural, o.metadata.namespace, o.metadata.name);
      }
    }
  }

  /** Graceful pod deletion: mark it, SIGTERM its process, remove the pod when the process has gone. */
  private deletePod(ns: string, name: string, graceS: number): Obj | undefined {
    const c = this.containers.get(`${ns}/${name}`);
    const running = c?.child && c.child.exitCode === null && c.child.signalCode === null;
    if (!running) {
      const o = this.api.remove('pods', ns, name);
      if (o) this.podHistory.set(name, `deleted (${o.status?.phase})`);
      return o;
    }
    const o = this.api.update('pods', ns, name, (p) => {
      p.metadata.deletionTimestamp ??= new Date().toISOString();
      p.metadata.deletionGracePeriodSeconds = graceS;
    });
    c!.child!.kill('SIGTERM');
    const t = setTimeout(() => c!.child?.kill('SIGKILL'), Math.max(0, graceS) * 1000);
    c!.child!.once('exit', () => {
      clearTimeout(t);
      // Let the exit status land first, so watchers see how it ended.
      setTimeout(() => {
        const gone = this.api.remove('pods', ns, name);
        if (gone) this.podHistory.set(name, `deleted (${gone.status?.phase})`);
      }, 50);
    });
    return o;
  }

  private scheduleSoon(): void {
    if (this.scheduling || this.closed) return;
    this.scheduling = true;
    setImmediate(() => {
      this.scheduling = false;
      this.schedulePods();
    });
  }

  private podGpus(p: Obj): number {
    return (p.spec.containers as Array<{ resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }>).reduce(
      (n, c) => n + Number(c.resources?.limits?.['nvidia.com/gpu'] ?? c.resources?.requests?.['nvidia.com/gpu'] ?? 0),
      0,
    );
  }

  /** Binds pending pods to nodes with room (first fit), starts them; a pod that fits nowhere gets one event. */
  private schedulePods(): void {
    if (this.closed) return;
    const nodes = this.api.list('nodes');
    const pods = this.api.list('pods');
    const used = new Map<string, number>();
    for (const p of pods) if (p.spec.nodeName && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed') used.set(p.spec.nodeName, (used.get(p.spec.nodeName) ?? 0) + this.podGpus(p));
    for (const p of pods) {
      if (p.spec.nodeName || p.metadata.deletionTimestamp || p.status.phase !== 'Pending') continue;
      const need = this.podGpus(p);
      const sel = (p.spec.nodeSelector ?? {}) as Record<string, string>;
      const node = nodes.find(
        (n) => Object.entries(sel).every(([k, v]) => n.metadata.labels?.[k] === v) && Number(n.status.allocatable['nvidia.com/gpu']) - (used.get(n.metadata.name) ?? 0) >= need,
      );
      if (!node) {
        if (!p.metadata.annotations?.['fake/unschedulable']) {
          this.api.update('pods', p.metadata.namespace, p.metadata.name, (o) => {
            o.metadata.annotations = { ...(o.metadata.annotations ?? {}), 'fake/unschedulable': 'true' };
            o.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }];
          });
          this.event(p.metadata.namespace, p.metadata.name, 'Warning', 'FailedScheduling', `0/${nodes.length} nodes are available: ${nodes.length} Insufficient nvidia.com/gpu.`);
        }
        continue;
      }
      used.set(node.metadata.name, (used.get(node.metadata.name) ?? 0) + need);
      this.api.update('pods', p.metadata.namespace, p.metadata.name, (o) => {
        o.spec.nodeName = node.metadata.name;
        o.status.conditions = [{ type: 'PodScheduled', status: 'True' }];
      });
      this.event(p.metadata.namespace, p.metadata.name, 'Normal', 'Scheduled', `Successfully assigned ${p.metadata.namespace}/${p.metadata.name} to ${node.metadata.name}`);
      this.runPod(p.metadata.namespace, p.metadata.name);
    }
  }

  // ---- kubelet ----

  /** The container's environment as the kubelet builds it; a string: why it cannot (CreateContainerConfigError). */
  private resolveEnv(
    pod: Obj,
    env: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string; optional?: boolean } } }>,
  ): Record<string, string> | string {
    const out: Record<string, string> = {};
    for (const e of env) {
      if (e.value !== undefined) out[e.name] = e.value;
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        const secret = this.api.get('secrets', pod.metadata.namespace, ref.name);
        const v = secret?.data?.[ref.key] as string | undefined;
        if (v !== undefined) out[e.name] = Buffer.from(v, 'base64').toString('utf8');
        else if (!ref.optional) return secret ? `couldn't find key ${ref.key} in Secret ${pod.metadata.namespace}/${ref.name}` : `secret "${ref.name}" not found`;
        continue;
      }
      const f = e.valueFrom?.fieldRef?.fieldPath;
      if (!f) continue;
      if (f === 'status.podIP') out[e.name] = '127.0.0.1';
      else if (f === 'metadata.name') out[e.name] = pod.metadata.name;
      else if (f === 'metadata.namespace') out[e.name] = pod.metadata.namespace;
      else {
        const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(f);
        if (m) out[e.name] = pod.metadata[m[1]!]?.[m[2]!] ?? '';
      }
    }
    return out;
  }

  private runPod(ns: string, name: string): void {
    const pod = this.api.get('pods', ns, name)!;
    const spec = pod.spec.containers[0];
    const c: Container = { pod: name, ns, child: null, lines: [], followers: new Set(), done: false, oom: false };
    this.containers.set(`${ns}/${name}`, c);
    const fail = this.pullFailures.get(spec.image);
    if (fail) {
      this.setContainer(ns, name, 'Pending', { waiting: { reason: 'ErrImagePull', message: `rpc error: pull access denied for ${spec.image}` } });
      this.event(ns, name, 'Warning', 'Failed', `Failed to pull image "${spec.image}": pull access denied`);
      setTimeout(() => {
        if (this.closed || !this.api.get('pods', ns, name)) return;
        this.setContainer(ns, name, 'Pending', { waiting: { reason: 'ImagePullBackOff', message: fail } });
        this.event(ns, name, 'Normal', 'BackOff', fail);
      }, 300);
      c.done = true;
      return;
    }
    const resolved = this.resolveEnv(pod, spec.env ?? []);
    if (typeof resolved === 'string') {
      this.setContainer(ns, name, 'Pending', { waiting: { reason: 'CreateContainerConfigError', message: resolved } });
      this.event(ns, name, 'Warning', 'Failed', `Error: ${resolved}`);
      c.done = true;
      // As the kubelet does, try again a little later: the container starts once its Secret is there.
      setTimeout(() => {
        const now = this.api.get('pods', ns, name);
        if (!this.closed && now && !now.metadata.deletionTimestamp && now.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError') this.runPod(ns, name);
      }, 1000);
      return;
    }
    const workDir = path.join(this.workRoot, pod.spec.nodeName, name);
    fs.mkdirSync(workDir, { recursive: true });
    const env = { ...(this.opts.baseEnv ?? {}), HONE_WORK_DIR: workDir, ...resolved };
    const [cmd, ...args] = [...(spec.command ?? []), ...(spec.args ?? [])];
    const child = spawn(cmd === 'node' ? process.execPath : cmd!, args, { cwd: spec.workingDir ?? workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.child = child;
    const startedAt = new Date().toISOString();
    this.api.update('pods', ns, name, (o) => {
      o.status.phase = 'Running';
      o.status.podIP = '127.0.0.1';
      o.status.hostIP = '127.0.0.1';
      o.status.startTime = startedAt;
      o.status.containerStatuses = [{ name: spec.name, image: spec.image, ready: true, restartCount: 0, state: { running: { startedAt } } }];
    });
    this.podHistory.set(name, 'Running');
    for (const s of [child.stdout!, child.stderr!]) {
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        buf += d;
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const line of parts) this.logLine(c, line);
      });
      s.on('end', () => buf && this.logLine(c, buf));
    }
    child.on('exit', (code, signal) => {
      const exitCode = c.oom ? 137 : (code ?? 128 + (os.constants.signals[signal ?? 'SIGKILL'] ?? 9));
      const reason = c.oom ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
      // Streams may still hold the last lines: end the followers once they are written.
      setTimeout(() => {
        for (const f of c.followers) f.end();
        c.followers.clear();
      }, 100);
      if (this.closed) return;
      if (!c.done) {
        const now = new Date().toISOString();
        this.setContainer(ns, name, exitCode === 0 ? 'Succeeded' : 'Failed', { terminated: { exitCode, reason, startedAt, finishedAt: now, ...(signal ? { signal: os.constants.signals[signal] } : {}) } });
        if (c.oom) this.event(ns, name, 'Warning', 'OOMKilling', `Memory cgroup out of memory: Killed process ${child.pid}`);
        this.podHistory.set(name, exitCode === 0 ? 'Succeeded' : 'Failed');
      }
      c.done = true;
    });
  }

  private setContainer(ns: string, name: string, phase: string, state: Record<string, unknown>): void {
    this.api.update('pods', ns, name, (o) => {
      o.status.phase = phase;
      const cs = o.status.containerStatuses?.[0] ?? { name: o.spec.containers[0].name, image: o.spec.containers[0].image, restartCount: 0 };
      o.status.containerStatuses = [{ ...cs, ready: false, state }];
    });
  }

  private logLine(c: Container, line: string): void {
    const l = { ts: new Date().toISOString(), line };
    c.lines.push(l);
    if (c.lines.length > 20_000) c.lines.splice(0, 5000);
    for (const f of c.followers) f.write(`${line}\n`);
  }

  private podLog(ns: string, name: string, q: URLSearchParams, res: http.ServerResponse): void {
    const c = this.containers.get(`${ns}/${name}`);
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (!c) return void res.end();
    const since = q.get('sinceTime');
    for (const l of c.lines) if (!since || l.ts >= since) res.write(`${l.line}\n`);
    const running = c.child && c.child.exitCode === null && c.child.signalCode === null;
    if (q.get('follow') === 'true' && running) {
      c.followers.add(res);
      res.on('close', () => c.followers.delete(res));
    } else res.end();
  }
}
