// A small REST client for the master, shared by the CLI commands.
import http from 'node:http';
import https from 'node:https';
import { HoneError } from '@hone/protocol/errors';

/** The error for a master that does not answer; status 0 (no HTTP answer) makes the CLI exit with 3. */
const unreachable = (message: string): HoneError => new HoneError('UNAVAILABLE', message, undefined, 0);

export class Client {
  readonly base: string;
  constructor(master: string, private readonly token?: string) {
    this.base = master.replace(/\/$/, '');
    if (!/^https?:\/\//.test(this.base)) this.base = `http://${this.base}`;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/v1${path}`, {
        method,
        headers: this.headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      throw unreachable(`cannot reach the master at ${this.base} (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}); is it running? Set -m/--master or HONE_MASTER`);
    }
    return this.parse<T>(res);
  }

  async parse<T>(res: Response): Promise<T> {
    const text = await res.text();
    if (!res.ok) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON (a proxy's page, say): the text itself is the message
      }
      throw HoneError.fromResponse(res.status, body, text || `HTTP ${res.status}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async raw(path: string): Promise<Response> {
    const res = await fetch(`${this.base}/api/v1${path}`, { headers: this.headers() });
    if (!res.ok) await this.parse(res);
    return res;
  }

  /** POSTs a large JSON body in chunks, reporting bytes sent (for a progress bar). */
  postStreaming<T>(path: string, chunks: Buffer[], onProgress: (sent: number, total: number) => void): Promise<T> {
    const url = new URL(`${this.base}/api/v1${path}`);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(
        url,
        { method: 'POST', headers: this.headers({ 'content-type': 'application/json', 'content-length': String(total) }) },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => {
            const r = new Response(Buffer.concat(parts), { status: res.statusCode ?? 500 });
            this.parse<T>(r).then(resolve, reject);
          });
        },
      );
      req.on('error', (e) => reject(unreachable(`cannot reach the master at ${this.base} (${e.message})`)));
      let sent = 0;
      let i = 0;
      const writeNext = () => {
        while (i < chunks.length) {
          const c = chunks[i++]!;
          sent += c.length;
          onProgress(sent, total);
          if (!req.write(c)) {
            req.once('drain', writeNext);
            return;
          }
        }
        req.end();
      };
      writeNext();
    });
  }
}
