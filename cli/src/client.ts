// A small REST client for the master, shared by the CLI commands. It speaks node:http rather than fetch: loading
// fetch (undici) costs Node 20 about 0.1 s, most of what a `hone` command's start-up would otherwise take.
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { HoneError } from '@hone/protocol/errors';

/**
 * The error for a master that does not answer (refused, reset, closed mid-answer): status 0 (no HTTP answer)
 * makes the CLI exit with 3. Every command says it the same way, whichever request failed.
 */
export function unreachable(base: string, cause: unknown): HoneError {
  const e = cause as NodeJS.ErrnoException;
  const why = e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message || String(e.code);
  return new HoneError('UNAVAILABLE', `cannot reach the master at ${base} (${why}); is it running? Set -m/--master or HONE_MASTER`, undefined, 0);
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Whether an error is the connection failing, as opposed to the master answering with an error, or a local one. */
export function isConnectionError(e: unknown): boolean {
  return CONNECTION_ERRORS.has(String((e as NodeJS.ErrnoException | null)?.code));
}

/** An answer whose body has not been read yet (decompressed when the master compressed it). */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
}

/** A JSON body sent in chunks, with the bytes sent so far reported after each (for a progress bar). */
interface Upload {
  chunks: Buffer[];
  onProgress?: (sent: number, total: number) => void;
}

export class Client {
  readonly base: string;
  constructor(master: string, private readonly token?: string) {
    this.base = master.replace(/\/$/, '');
    if (!/^https?:\/\//.test(this.base)) this.base = `http://${this.base}`;
  }

  /** Runs `fn` (reading an answer, say); a failed connection becomes `unreachable`. */
  async connected<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw isConnectionError(e) ? unreachable(this.base, e) : e;
    }
  }

  private send(method: string, path: string, upload?: Upload): Promise<Answer> {
    const url = new URL(`${this.base}/api/v1${path}`);
    const total = upload ? upload.chunks.reduce((n, c) => n + c.length, 0) : 0;
    const headers: Record<string, string> = { 'accept-encoding': 'gzip, br' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (upload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(total) });
    return new Promise<Answer>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers }, (res) => {
        const encoding = res.headers['content-encoding'];
        const unzip = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'br' ? zlib.createBrotliDecompress() : null;
        // pipeline passes a connection lost mid-answer on to the stream the caller reads.
        resolve({ status: res.statusCode ?? 500, headers: res.headers, body: unzip ? pipeline(res, unzip, () => undefined) : res });
      });
      req.on('error', (e) => reject(unreachable(this.base, e)));
      if (!upload) return void req.end();
      let sent = 0;
      let i = 0;
      const writeNext = () => {
        while (i < upload.chunks.length) {
          const c = upload.chunks[i++]!;
          sent += c.length;
          upload.onProgress?.(sent, total);
          if (!req.write(c)) return void req.once('drain', writeNext);
        }
        req.end();
      };
      writeNext();
    });
  }

  /** Reads an answer: its JSON on success, else the master's error (code, status and message as it sent them). */
  async parse<T>(a: Answer): Promise<T> {
    const text = await this.connected(async () => {
      const parts: Buffer[] = [];
      for await (const c of a.body) parts.push(c as Buffer);
      return Buffer.concat(parts).toString('utf8');
    });
    if (a.status < 200 || a.status >= 300) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON (a proxy's page, say): the text itself is the message
      }
      throw HoneError.fromResponse(a.status, body, text || `HTTP ${a.status}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A request with its answer's headers. */
  async requestWithHeaders<T>(method: string, path: string, body?: unknown): Promise<{ body: T; headers: http.IncomingHttpHeaders }> {
    const a = await this.send(method, path, body !== undefined ? { chunks: [Buffer.from(JSON.stringify(body))] } : undefined);
    return { body: await this.parse<T>(a), headers: a.headers };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.requestWithHeaders<T>(method, path, body)).body;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** A GET whose body the caller streams (inside `connected`, so a lost connection reads as unreachable); error answers throw. */
  async raw(path: string): Promise<Readable> {
    const a = await this.send('GET', path);
    if (a.status < 200 || a.status >= 300) await this.parse(a);
    return a.body;
  }

  /** POSTs a large JSON body in chunks, reporting bytes sent (for a progress bar). */
  async postStreaming<T>(path: string, chunks: Buffer[], onProgress: (sent: number, total: number) => void): Promise<T> {
    return this.parse<T>(await this.send('POST', path, { chunks, onProgress }));
  }
}
