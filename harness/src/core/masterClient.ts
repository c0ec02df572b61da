// The harness's view of the master's REST API (per-allocation task token). `MasterClient` is the contract;
// `HttpMasterClient` speaks HTTP with retries, `MemoryMaster` (memoryMaster.ts) is an in-process double for tests.
import type {
  ReportReproducibilityBody,
  AllocationInfo,
  CheckpointInfo,
  CompleteOperationBody,
  ReportCheckpointBody,
  ReportMetricsBody,
  ReportProgressBody,
  SearcherOperation,
} from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { HoneError } from '@hone/protocol/errors';

export interface MasterClient {
  /** `rank` tells the master which rank asks (AllocationInfo.rank echoes it). */
  getAllocationInfo(allocationId: string, rank?: number): Promise<AllocationInfo>;
  /** Long-polls up to waitS seconds while there is no operation and the trial is not closed. */
  getSearcherOperation(trialId: number, waitS: number): Promise<SearcherOperation>;
  completeOperation(trialId: number, body: CompleteOperationBody): Promise<void>;
  /** How far the current operation has trained (POST /trials/:id/searcher/progress). */
  reportProgress(trialId: number, body: ReportProgressBody): Promise<void>;
  reportMetrics(trialId: number, body: ReportMetricsBody): Promise<void>;
  reportCheckpoint(trialId: number, body: ReportCheckpointBody): Promise<CheckpointInfo>;
  uploadCheckpointFile(uuid: string, relPath: string, data: Uint8Array): Promise<void>;
  downloadCheckpointFile(uuid: string, relPath: string): Promise<Uint8Array>;
  /** Long-polls up to waitS seconds; true once the allocation should stop. */
  getPreemption(allocationId: string, waitS: number, signal?: AbortSignal): Promise<boolean>;
  postRendezvous(allocationId: string, rank: number, address: string): Promise<void>;
  /** The addresses by rank once every rank has posted, or null while incomplete after waitS. */
  getRendezvous(allocationId: string, waitS: number): Promise<string[] | null>;
  /** A registered checkpoint by uuid (GET /checkpoints/:uuid). */
  getCheckpoint(uuid: string): Promise<CheckpointInfo>;
}

export interface HttpMasterClientOptions {
  /** e.g. http://master:8080 (the /api/v1 prefix is added). */
  baseUrl: string;
  token: string;
  /** How long transient failures (network errors, 502/503/504) are retried before giving up. Default 60 s. */
  retryForMs?: number;
  log?: (line: string) => void;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done, { once: true });
  });

export class HttpMasterClient implements MasterClient {
  private readonly base: string;
  private readonly retryForMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: HttpMasterClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '') + API_PREFIX;
    this.retryForMs = opts.retryForMs ?? 60_000;
    this.log = opts.log ?? ((l) => console.error(l));
  }

  /**
   * One request with retries on transient failures; returns the raw response (2xx) or throws the master's answer as
   * a `HoneError` (its code, the status as received, and a message that names the request).
   */
  private async request(method: string, path: string, init: { body?: unknown; raw?: Uint8Array; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Response> {
    const deadline = Date.now() + this.retryForMs;
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      const ctrl = new AbortController();
      const onAbort = () => ctrl.abort();
      init.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => ctrl.abort(), init.timeoutMs ?? 30_000);
      let transient: string;
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}` };
        let body: BodyInit | undefined;
        if (init.raw) {
          headers['content-type'] = 'application/octet-stream';
          body = init.raw as unknown as BodyInit;
        } else if (init.body !== undefined) {
          headers['content-type'] = 'application/json';
          body = JSON.stringify(init.body);
        }
        const res = await fetch(this.base + path, { method, headers, body, signal: ctrl.signal });
        if (res.ok) return res;
        if (res.status === 502 || res.status === 503 || res.status === 504) {
          transient = `HTTP ${res.status}`;
          // The master says how long to wait (its database is restarting, say): at least that, within reason.
          const retryAfterS = Number(res.headers.get('retry-after'));
          if (Number.isFinite(retryAfterS) && retryAfterS > 0) delay = Math.max(delay, Math.min(retryAfterS * 1000, 10_000));
          await res.arrayBuffer().catch(() => undefined);
        } else {
          const text = await res.text().catch(() => '');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: the text becomes the message
          }
          const answer = HoneError.fromResponse(res.status, parsed, text || res.statusText);
          throw new HoneError(answer.code, `${method} ${path}: ${res.status} ${answer.code}: ${answer.message}`, answer.details, res.status);
        }
      } catch (e) {
        if (e instanceof HoneError) throw e;
        if (init.signal?.aborted) throw new Error(`${method} ${path}: aborted`);
        transient = (e as Error).message + ((e as { cause?: { code?: string } }).cause?.code ? ` (${(e as { cause: { code: string } }).cause.code})` : '');
      } finally {
        clearTimeout(timer);
        init.signal?.removeEventListener('abort', onAbort);
      }
      if (Date.now() + delay > deadline) {
        throw new Error(`${method} ${path}: master unreachable for ${Math.round(this.retryForMs / 1000)} s (last error: ${transient})`);
      }
      if (attempt === 1 || attempt % 5 === 0) this.log(`master: ${method} ${path} failed (${transient}); retrying`);
      await sleep(delay, init.signal);
      delay = Math.min(delay * 2, 5_000);
    }
  }

  private async json<T>(method: string, path: string, body?: unknown, timeoutMs?: number, signal?: AbortSignal): Promise<T> {
    const res = await this.request(method, path, { body, timeoutMs, signal });
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  getAllocationInfo(aid: string, rank = 0): Promise<AllocationInfo> {
    return this.json('GET', `/allocations/${encodeURIComponent(aid)}/info?rank=${rank}`);
  }

  getSearcherOperation(tid: number, waitS: number): Promise<SearcherOperation> {
    return this.json('GET', `/trials/${tid}/searcher/operation?wait_s=${waitS}`, undefined, (waitS + 30) * 1000);
  }

  async completeOperation(tid: number, body: CompleteOperationBody): Promise<void> {
    await this.json('POST', `/trials/${tid}/searcher/completed_operation`, body);
  }

  /** What this run trains with (rank 0, once per allocation). */
  async reportReproducibility(tid: number, body: ReportReproducibilityBody): Promise<void> {
    await this.json('POST', `/trials/${tid}/reproducibility`, body);
  }

  async reportProgress(tid: number, body: ReportProgressBody): Promise<void> {
    await this.json('POST', `/trials/${tid}/searcher/progress`, body);
  }

  async reportMetrics(tid: number, body: ReportMetricsBody): Promise<void> {
    await this.json('POST', `/trials/${tid}/metrics`, body);
  }

  reportCheckpoint(tid: number, body: ReportCheckpointBody): Promise<CheckpointInfo> {
    return this.json('POST', `/trials/${tid}/checkpoints`, body);
  }

  async uploadCheckpointFile(uuid: string, relPath: string, data: Uint8Array): Promise<void> {
    const res = await this.request('PUT', `/checkpoints/${uuid}/files/${encodePath(relPath)}`, { raw: data, timeoutMs: 600_000 });
    await res.arrayBuffer();
  }

  async downloadCheckpointFile(uuid: string, relPath: string): Promise<Uint8Array> {
    const res = await this.request('GET', `/checkpoints/${uuid}/files/${encodePath(relPath)}`, { timeoutMs: 600_000 });
    return new Uint8Array(await res.arrayBuffer());
  }

  async getPreemption(aid: string, waitS: number, signal?: AbortSignal): Promise<boolean> {
    const r = await this.json<{ preempt: boolean }>('GET', `/allocations/${encodeURIComponent(aid)}/preemption?wait_s=${waitS}`, undefined, (waitS + 30) * 1000, signal);
    return r.preempt === true;
  }

  async postRendezvous(aid: string, rank: number, address: string): Promise<void> {
    await this.json('POST', `/allocations/${encodeURIComponent(aid)}/rendezvous`, { rank, address });
  }

  getCheckpoint(uuid: string): Promise<CheckpointInfo> {
    return this.json('GET', `/checkpoints/${encodeURIComponent(uuid)}`);
  }

  async getRendezvous(aid: string, waitS: number): Promise<string[] | null> {
    try {
      const r = await this.json<{ addresses: string[] }>('GET', `/allocations/${encodeURIComponent(aid)}/rendezvous?wait_s=${waitS}`, undefined, (waitS + 30) * 1000);
      return Array.isArray(r.addresses) ? r.addresses : null;
    } catch (e) {
      // Not every rank has posted yet: the master answers with a 4xx (404 / 409) until the list is complete.
      if (e instanceof HoneError && (e.status === 404 || e.status === 409 || e.status === 425)) return null;
      throw e;
    }
  }
}

function encodePath(relPath: string): string {
  return relPath.split('/').map(encodeURIComponent).join('/');
}
