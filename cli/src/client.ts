// A small REST client for the master, shared by the CLI commands. It speaks node:http rather than fetch: loading
// fetch (undici) costs Node 20 about 0.1 s, most of what a `hone` command's start-up would otherwise take.
// An https:// master's certificate is verified, against the system's roots and a private CA if one is given.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import tls from 'node:tls';
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

/** Node's codes for a certificate it could not verify (or a TLS handshake that failed). */
const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|^ERR_TLS|^ERR_SSL|^EPROTO$/;

/** The error for a master whose TLS certificate is not trusted (or that does not speak TLS): exit 3, like no answer. */
export function untrusted(base: string, cause: unknown, caFile: string | undefined): HoneError {
  const e = cause as NodeJS.ErrnoException;
  const code = String(e.code ?? '');
  const hint = /ERR_SSL_WRONG_VERSION_NUMBER|^EPROTO$/.test(code)
    ? 'does it serve https? Use an http:// URL for a master without TLS'
    : code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? 'the certificate is for another host name; use the name it was issued for in -m/--master'
      : caFile
        ? `the CA in ${caFile} (--ca or HONE_CA) did not sign it either`
        : "if a private CA signed it, give that CA's certificate (PEM) with --ca FILE or HONE_CA";
  return new HoneError('UNAVAILABLE', `cannot verify the TLS certificate of the master at ${base} (${code}: ${e.message}); ${hint}`, undefined, 0);
}

/** Reads a PEM file of CA certificates to trust besides the system's roots; errors name the file. */
export function readCa(file: string): string[] {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new HoneError('INVALID_ARGUMENT', `--ca ${file}: ${(e as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new HoneError('INVALID_ARGUMENT', `--ca ${file}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return [...tls.rootCertificates, pem];
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
  /** Whether a 401 gets the advice on how to sign in (every route but the sign-in itself). */
  adviseSignIn?: boolean;
}

/** A JSON body sent in chunks, with the bytes sent so far reported after each (for a progress bar). */
interface Upload {
  chunks: Buffer[];
  onProgress?: (sent: number, total: number) => void;
}

/** Where the token a client sends came from: it decides what a 401 tells the user to do. */
export type TokenSource = '--token' | 'HONE_TOKEN' | 'auth file';

export interface ClientOptions {
  token?: string;
  tokenSource?: TokenSource;
  /** The auth file the token was read from (named in a 401's advice). */
  authFile?: string;
  /** PEM file of a private CA that signed an https:// master's certificate. */
  caFile?: string;
}

/** Per-request choices: another token than the client's (null: none at all). */
interface RequestOptions {
  token?: string | null;
}

/** How many times a GET answered 503 is tried again, and the longest wait between tries. */
const GET_RETRIES = 4;
const MAX_RETRY_DELAY_MS = 10_000;

/** The wait before retry `n`: the master's Retry-After (seconds) if it sent one, else 0.5 s, 1 s, 2 s, ... */
export function retryDelayMs(retryAfter: string | string[] | undefined, n: number): number {
  const s = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  const ms = Number.isFinite(s) && s >= 0 ? s * 1000 : 500 * 2 ** (n - 1);
  return Math.min(ms, MAX_RETRY_DELAY_MS);
}

export class Client {
  readonly base: string;
  private ca: string[] | undefined;
  constructor(master: string, private readonly opts: ClientOptions = {}) {
    this.base = master.replace(/\/+$/, '');
    if (!/^https?:\/\//.test(this.base)) this.base = `http://${this.base}`;
  }

  get token(): string | undefined {
    return this.opts.token;
  }
  get tokenSource(): TokenSource | undefined {
    return this.opts.tokenSource;
  }

  /** What to do after a 401: sign in, naming this master, and what stands in the way. */
  signInAdvice(): string {
    const login = `hone -m ${this.base} user login`;
    switch (this.opts.tokenSource) {
      case '--token':
        return `The token given with --token was refused by ${this.base}; give a valid one, or drop --token and run \`${login}\`.`;
      case 'HONE_TOKEN':
        return `The token in HONE_TOKEN was refused by ${this.base}; set it to a valid one (\`hone token create\`), or unset it and run \`${login}\`.`;
      case 'auth file':
        return `The session kept for ${this.base} in ${this.opts.authFile} has ended; sign in again: \`${login}\`.`;
      default:
        return `Not signed in to ${this.base}: run \`${login}\` (or set HONE_TOKEN to an access token).`;
    }
  }

  /** Runs `fn` (reading an answer, say); a failed connection becomes `unreachable`. */
  async connected<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw isConnectionError(e) ? unreachable(this.base, e) : e;
    }
  }

  private send(method: string, path: string, upload?: Upload, ro: RequestOptions = {}): Promise<Answer> {
    const url = new URL(`${this.base}/api/v1${path}`);
    const total = upload ? upload.chunks.reduce((n, c) => n + c.length, 0) : 0;
    const headers: Record<string, string> = { 'accept-encoding': 'gzip, br' };
    const token = ro.token === undefined ? this.opts.token : ro.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (upload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(total) });
    const secure = url.protocol === 'https:';
    // The CA file is read once, and only for an https master (HONE_CA may be set for every master a user has).
    if (secure && this.opts.caFile && !this.ca) this.ca = readCa(this.opts.caFile);
    return new Promise<Answer>((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method, headers, ...(secure && this.ca ? { ca: this.ca } : {}) }, (res) => {
        const encoding = res.headers['content-encoding'];
        const unzip = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'br' ? zlib.createBrotliDecompress() : null;
        // pipeline passes a connection lost mid-answer on to the stream the caller reads.
        resolve({ status: res.statusCode ?? 500, headers: res.headers, body: unzip ? pipeline(res, unzip, () => undefined) : res, adviseSignIn: true });
      });
      req.on('error', (e) => reject(TLS_ERRORS.test(String((e as NodeJS.ErrnoException).code ?? '')) ? untrusted(this.base, e, this.opts.caFile) : unreachable(this.base, e)));
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
      const e = HoneError.fromResponse(a.status, body, text || `HTTP ${a.status}`);
      if (e.status === 401 && a.adviseSignIn) throw new HoneError(e.code, `${e.message}\n${this.signInAdvice()}`, e.details, e.status);
      throw e;
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A request with its answer's headers. */
  async requestWithHeaders<T>(method: string, path: string, body?: unknown, ro: RequestOptions = {}): Promise<{ body: T; headers: http.IncomingHttpHeaders }> {
    let a = await this.send(method, path, body !== undefined ? { chunks: [Buffer.from(JSON.stringify(body))] } : undefined, ro);
    // A GET is safe to repeat: while the master says it is briefly unavailable (503: its database restarts, say),
    // try again a few times, waiting as long as its Retry-After asks (within reason).
    for (let retry = 1; method === 'GET' && a.status === 503 && retry <= GET_RETRIES; retry++) {
      a.body.resume();
      await new Promise((r) => setTimeout(r, retryDelayMs(a.headers['retry-after'], retry)));
      a = await this.send(method, path, undefined, ro);
    }
    // A refused sign-in is the master's answer itself ("wrong user name or password"), not a reason to sign in.
    if (path === '/auth/login') a.adviseSignIn = false;
    return { body: await this.parse<T>(a), headers: a.headers };
  }

  async request<T>(method: string, path: string, body?: unknown, ro: RequestOptions = {}): Promise<T> {
    return (await this.requestWithHeaders<T>(method, path, body, ro)).body;
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
