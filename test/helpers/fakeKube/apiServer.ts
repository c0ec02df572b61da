// An in-process Kubernetes API server over real HTTP, for tests (no kube-apiserver can be installed here). It
// speaks the real REST paths and JSON of the resources Hone uses — batch/v1 Jobs, v1 Pods (and their logs),
// Nodes, ConfigMaps, Secrets, Events — with label and field selectors, resourceVersion, PATCH (JSON merge patch,
// strategic merge patch as far as maps go, JSON patch), and `?watch=true` streams that replay from a
// resourceVersion, can be dropped, answer 410 Gone once history is compacted, or silently lose an event. The
// cluster's behaviour (Job controller, garbage collector, scheduler, kubelet) lives in cluster.ts and changes
// objects through `store`.
import http from 'node:http';
import crypto from 'node:crypto';
import { parseFieldSelector, parseLabelSelector } from './selectors';

export type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, any>; spec?: any; status?: any; [k: string]: any };
export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Resource {
  plural: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
}

const RESOURCES: Resource[] = [
  { plural: 'jobs', kind: 'Job', apiVersion: 'batch/v1', namespaced: true },
  { plural: 'pods', kind: 'Pod', apiVersion: 'v1', namespaced: true },
  { plural: 'nodes', kind: 'Node', apiVersion: 'v1', namespaced: false },
  { plural: 'configmaps', kind: 'ConfigMap', apiVersion: 'v1', namespaced: true },
  { plural: 'secrets', kind: 'Secret', apiVersion: 'v1', namespaced: true },
  { plural: 'events', kind: 'Event', apiVersion: 'v1', namespaced: true },
];

interface Watcher {
  plural: string;
  namespace: string | null;
  match: (o: Obj) => boolean;
  res: http.ServerResponse;
}

/** A request that fails on purpose: the next `count` requests matching `method` and `path`. */
interface Fault {
  method?: string;
  path: RegExp;
  status: number;
  count: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
}

export const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

export class FakeApiServer {
  private readonly objects = new Map<string, Map<string, Obj>>(RESOURCES.map((r) => [r.plural, new Map()]));
  private rv = 100;
  /** Watch history: events after `historyFrom` can be replayed. */
  private history: Array<{ rv: number; plural: string; type: WatchType; obj: Obj; dropped?: boolean }> = [];
  private historyFrom = 100;
  private readonly watchers = new Set<Watcher>();
  private readonly faults: Fault[] = [];
  private readonly drops: Array<{ match: (plural: string, type: WatchType, obj: Obj) => boolean; count: number }> = [];
  /** Watch events lost on purpose (dropEvents), for assertions. */
  readonly dropped: Array<{ plural: string; type: WatchType; obj: Obj }> = [];
  /** Answer a watch from a compacted resourceVersion with an HTTP 410 instead of an ERROR event. */
  goneAsStatus = false;
  readonly requests: RequestRecord[] = [];
  /** Pod log handlers (cluster.ts): write what the container printed, follow when asked. */
  podLog: (ns: string, name: string, q: URLSearchParams, res: http.ServerResponse) => void = (_n, _p, _q, res) => res.end();
  /** Called after every change, so the controllers can react. */
  onChange: (plural: string, type: WatchType, obj: Obj) => void = () => undefined;
  private server: http.Server | null = null;
  url = '';

  async listen(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const addr = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${addr.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  // ---- the store ----

  private key(ns: string | undefined, name: string): string {
    return `${ns ?? ''}/${name}`;
  }

  list(plural: string, ns?: string | null): Obj[] {
    return [...this.objects.get(plural)!.values()].filter((o) => !ns || o.metadata.namespace === ns).map(clone);
  }

  get(plural: string, ns: string | undefined, name: string): Obj | undefined {
    const o = this.objects.get(plural)!.get(this.key(ns, name));
    return o ? clone(o) : undefined;
  }

  private emit(plural: string, type: WatchType, obj: Obj): void {
    const rv = Number(obj.metadata.resourceVersion);
    const drop = this.drops.find((d) => d.count > 0 && d.match(plural, type, obj));
    if (drop) {
      // Lost between the store and every watcher, and never replayed: only a fresh list shows the change.
      drop.count--;
      this.dropped.push({ plural, type, obj: clone(obj) });
      this.history.push({ rv, plural, type, obj: clone(obj), dropped: true });
      this.onChange(plural, type, clone(obj));
      return;
    }
    this.history.push({ rv, plural, type, obj: clone(obj) });
    if (this.history.length > 5000) {
      this.history.splice(0, 1000);
      this.historyFrom = this.history[0]!.rv - 1;
    }
    for (const w of this.watchers) {
      if (w.plural !== plural || (w.namespace && obj.metadata.namespace !== w.namespace) || !w.match(obj)) continue;
      w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
    }
    this.onChange(plural, type, clone(obj));
  }

  create(plural: string, obj: Obj): Obj {
    const r = RESOURCES.find((x) => x.plural === plural)!;
    const o = clone(obj);
    o.apiVersion = r.apiVersion;
    o.kind = r.kind;
    const k = this.key(o.metadata.namespace, o.metadata.name);
    if (this.objects.get(plural)!.has(k)) throw new ApiError(409, 'AlreadyExists', `${plural} "${o.metadata.name}" already exists`);
    o.metadata.uid = crypto.randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString();
    o.metadata.resourceVersion = String(++this.rv);
    o.metadata.labels ??= {};
    if (r.kind === 'Secret') normalizeSecret(o);
    if (r.kind === 'Pod') o.status ??= { phase: 'Pending' };
    this.objects.get(plural)!.set(k, o);
    this.emit(plural, 'ADDED', o);
    return clone(o);
  }

  /** Replaces an object's fields by `change(o)` (in place); a no-op when it is gone. */
  update(plural: string, ns: string | undefined, name: string, change: (o: Obj) => void): Obj | undefined {
    const o = this.objects.get(plural)!.get(this.key(ns, name));
    if (!o) return undefined;
    change(o);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit(plural, 'MODIFIED', o);
    return clone(o);
  }

  remove(plural: string, ns: string | undefined, name: string): Obj | undefined {
    const k = this.key(ns, name);
    const o = this.objects.get(plural)!.get(k);
    if (!o) return undefined;
    this.objects.get(plural)!.delete(k);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit(plural, 'DELETED', o);
    return clone(o);
  }

  /** The cluster decides how a delete happens (pods terminate first); default: at once. */
  onDelete: (plural: string, ns: string | undefined, name: string, q: URLSearchParams) => Obj | undefined = (p, ns, n) => this.remove(p, ns, n);

  // ---- faults ----

  /** Closes every open watch stream (clients should list/watch again). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Forgets watch history: a watch from any earlier resourceVersion answers 410 Gone. Drops open watches too. */
  compactHistory(): void {
    this.history = [];
    this.historyFrom = this.rv;
    this.dropWatches();
  }

  /**
   * The next `count` watch events matching are silently lost: the watch stays open, nothing is sent, and a
   * re-watch from an earlier resourceVersion does not replay them either (a missed transition).
   */
  dropEvents(match: (plural: string, type: WatchType, obj: Obj) => boolean, count = 1): void {
    this.drops.push({ match, count });
  }

  /** The next `count` requests matching get `status` (500 by default). */
  failNext(count: number, path: RegExp = /.*/, status = 500, method?: string): void {
    this.faults.push({ path, status, count, ...(method ? { method } : {}) });
  }

  // ---- HTTP ----

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const record = (status: number) => this.requests.push({ method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, status });
    const fault = this.faults.find((f) => f.count > 0 && f.path.test(url.pathname + url.search) && (!f.method || f.method === req.method));
    if (fault) {
      fault.count--;
      record(fault.status);
      return this.sendStatus(res, new ApiError(fault.status, 'InternalError', 'injected fault'));
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      try {
        const status = this.route(req.method ?? 'GET', url, body, res, String(req.headers['content-type'] ?? '').split(';')[0]!.trim());
        if (status) record(status);
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', (e as Error).message);
        record(err.code);
        this.sendStatus(res, err);
      }
    });
  }

  private sendStatus(res: http.ServerResponse, e: ApiError): void {
    res.writeHead(e.code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code }));
  }

  private send(res: http.ServerResponse, status: number, obj: unknown): number {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
    return status;
  }

  /** Answers a request; returns its status (0 for a stream that stays open). */
  private route(method: string, url: URL, body: string, res: http.ServerResponse, contentType = ''): number {
    const m = /^\/(?:api\/v1|apis\/batch\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    if (!m) throw new ApiError(404, 'NotFound', `no route ${url.pathname}`);
    const [, ns, plural, name, sub] = m;
    const r = RESOURCES.find((x) => x.plural === plural);
    if (!r) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    const isBatch = url.pathname.startsWith('/apis/batch/v1');
    if (isBatch !== (r.apiVersion === 'batch/v1')) throw new ApiError(404, 'NotFound', `${plural} is not served at ${url.pathname}`);
    const q = url.searchParams;
    if (sub === 'log') {
      if (plural !== 'pods' || !name) throw new ApiError(404, 'NotFound', 'logs are for pods');
      if (!this.get('pods', ns, name)) throw new ApiError(404, 'NotFound', `pods "${name}" not found`);
      this.podLog(ns!, name, q, res);
      return 200;
    }
    if (!name) {
      if (method === 'GET') {
        const labels = parseLabelSelector(q.get('labelSelector'));
        const fields = parseFieldSelector(q.get('fieldSelector'));
        const match = (o: Obj) => labels(o.metadata.labels ?? {}) && fields(o);
        if (q.get('watch') === 'true' || q.get('watch') === '1') return this.watch(plural!, ns ?? null, q.get('resourceVersion'), match, res);
        const items = this.list(plural!, ns).filter(match);
        return this.send(res, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
      }
      if (method === 'POST') {
        const obj = JSON.parse(body) as Obj;
        if (!obj?.metadata?.name) throw new ApiError(422, 'Invalid', `${r.kind}.metadata.name: Required value`);
        if (r.namespaced) obj.metadata.namespace = ns;
        validate(r.kind, obj);
        return this.send(res, 201, this.create(plural!, obj));
      }
      throw new ApiError(405, 'MethodNotAllowed', `${method} ${url.pathname}`);
    }
    if (method === 'GET') {
      const o = this.get(plural!, ns, name);
      if (!o) throw new ApiError(404, 'NotFound', `${plural} "${name}" not found`);
      return this.send(res, 200, o);
    }
    if (method === 'PATCH') {
      const before = this.get(plural!, ns, name);
      if (!before) throw new ApiError(404, 'NotFound', `${plural} "${name}" not found`);
      let patch: unknown;
      try {
        patch = JSON.parse(body);
      } catch {
        throw new ApiError(400, 'BadRequest', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
      }
      let after: Obj;
      if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') after = mergePatch(before, patch) as Obj;
      else if (contentType === 'application/json-patch+json') after = jsonPatch(before, patch);
      else throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got "${contentType}")`);
      // A resourceVersion in the patch is a precondition, as on the real API server.
      const wanted = (patch as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
      if (contentType !== 'application/json-patch+json' && wanted && wanted !== before.metadata.resourceVersion) {
        throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      after.metadata = { ...after.metadata, resourceVersion: before.metadata.resourceVersion };
      // What a patch may not change: identity, and the data of an immutable Secret.
      for (const f of ['name', 'namespace', 'uid'] as const) if (after.metadata?.[f] !== before.metadata[f]) throw new ApiError(422, 'Invalid', `${r.kind}.metadata.${f}: Invalid value: field is immutable`);
      if (r.kind === 'Secret') {
        normalizeSecret(after);
        if (before.immutable && (JSON.stringify(after.data ?? {}) !== JSON.stringify(before.data ?? {}) || after.immutable !== true)) throw new ApiError(422, 'Invalid', 'Secret.data: Forbidden: field is immutable when `immutable` is set');
      }
      validate(r.kind, after);
      const updated = this.update(plural!, ns, name, (o) => {
        for (const k of Object.keys(o)) delete o[k];
        Object.assign(o, after, { apiVersion: r.apiVersion, kind: r.kind });
      });
      return this.send(res, 200, updated);
    }
    if (method === 'DELETE') {
      const opts = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      if (opts.propagationPolicy && !q.get('propagationPolicy')) q.set('propagationPolicy', String(opts.propagationPolicy));
      const o = this.get(plural!, ns, name);
      if (!o) throw new ApiError(404, 'NotFound', `${plural} "${name}" not found`);
      this.onDelete(plural!, ns, name, q);
      return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name, kind: plural, uid: o.metadata.uid } });
    }
    throw new ApiError(405, 'MethodNotAllowed', `${method} ${url.pathname}`);
  }

  private watch(plural: string, ns: string | null, from: string | null, match: (o: Obj) => boolean, res: http.ServerResponse): number {
    const since = from ? Number(from) : NaN;
    if (!Number.isNaN(since) && since > 0 && since < this.historyFrom) {
      if (this.goneAsStatus) {
        this.sendStatus(res, new ApiError(410, 'Expired', `too old resource version: ${since} (${this.historyFrom})`));
        return 410;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `too old resource version: ${since} (${this.historyFrom})`, reason: 'Expired', code: 410 } })}\n`);
      return 200;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (Number.isNaN(since) || since <= 0) {
      for (const o of this.list(plural, ns)) if (match(o)) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      for (const e of this.history) {
        if (e.rv <= since || e.dropped || e.plural !== plural || (ns && e.obj.metadata.namespace !== ns) || !match(e.obj)) continue;
        res.write(`${JSON.stringify({ type: e.type, object: e.obj })}\n`);
      }
    }
    const w: Watcher = { plural, namespace: ns, match, res };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    return 200;
  }
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** JSON merge patch (RFC 7386): objects merge key by key, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** JSON patch (RFC 6902): add, replace, remove and test; paths are JSON pointers. */
function jsonPatch(target: Obj, ops: unknown): Obj {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json patch must be a list of operations');
  const doc = clone(target) as Record<string, any>;
  for (const op of ops as Array<{ op: string; path: string; value?: unknown }>) {
    const parts = String(op.path ?? '').split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) throw new ApiError(422, 'Invalid', `json patch: bad path "${op.path}"`);
    let parent: any = doc;
    for (const p of parts) {
      parent = parent?.[Array.isArray(parent) ? Number(p) : p];
      if (parent === undefined || parent === null) throw new ApiError(422, 'Invalid', `json patch: path "${op.path}" does not exist`);
    }
    const idx = Array.isArray(parent) ? (last === '-' ? parent.length : Number(last)) : last;
    if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !(idx in parent)) throw new ApiError(422, 'Invalid', `json patch: path "${op.path}" does not exist`);
      if (Array.isArray(parent) && op.op === 'add') parent.splice(idx as number, 0, clone(op.value));
      else parent[idx] = clone(op.value);
    } else if (op.op === 'remove') {
      if (!(idx in parent)) throw new ApiError(422, 'Invalid', `json patch: path "${op.path}" does not exist`);
      if (Array.isArray(parent)) parent.splice(idx as number, 1);
      else delete parent[idx];
    } else if (op.op === 'test') {
      if (JSON.stringify(parent[idx]) !== JSON.stringify(op.value)) throw new ApiError(422, 'Invalid', `json patch: test failed at "${op.path}"`);
    } else throw new ApiError(422, 'Invalid', `json patch: unsupported op "${op.op}"`);
  }
  return doc as Obj;
}

/** As the API server stores a Secret: `stringData` folded into `data` (base64), which must be valid base64. */
function normalizeSecret(o: Obj): void {
  if (o.stringData) {
    o.data = { ...(o.data ?? {}) };
    for (const [k, v] of Object.entries(o.stringData as Record<string, string>)) o.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    delete o.stringData;
  }
  for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new ApiError(422, 'Invalid', `Secret.data[${k}]: Invalid value: illegal base64 data`);
  }
  o.type ??= 'Opaque';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The checks of the real API server that Hone's objects must pass (names, labels, Job fields). */
function validate(kind: string, o: Obj): void {
  const name = o.metadata.name as string;
  const bad = (msg: string): never => {
    throw new ApiError(422, 'Invalid', `${kind}.${msg}`);
  };
  if (kind !== 'Node' && kind !== 'Event' && (name.length > 63 || !DNS_LABEL.test(name))) bad(`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`);
  const labels = (kind === 'Job' ? [o.metadata.labels, o.spec?.template?.metadata?.labels] : [o.metadata.labels]).filter(Boolean) as Array<Record<string, string>>;
  for (const l of labels) {
    for (const [k, v] of Object.entries(l)) if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) bad(`metadata.labels: Invalid value: "${v}" (label ${k})`);
  }
  if (kind === 'Job') {
    const s = o.spec ?? {};
    if (!s.template?.spec?.containers?.length) bad('spec.template.spec.containers: Required value');
    if (!['Never', 'OnFailure'].includes(s.template.spec.restartPolicy)) bad('spec.template.spec.restartPolicy: Unsupported value');
    if (s.completionMode === 'Indexed' && !(s.completions > 0)) bad('spec.completions: Required value: when completion mode is Indexed');
  }
}
