// The agent's side of TLS: with an `https://` (or `wss://`) master URL every connection verifies the master's
// certificate — against the system's roots, plus a private CA given with `--ca FILE` (HONE_CA). The harness gets
// the same CA through NODE_EXTRA_CA_CERTS (set by the agent), so its `fetch` verifies the master the same way.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import tls from 'node:tls';

/** Reads a PEM file of one or more CA certificates; throws a message naming the file when it holds none. */
export function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--ca ${file}: ${(e as Error).message}`);
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) throw new Error(`--ca ${file}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  return pem;
}

/** The trust list for TLS connections to the master: the system's roots and the private CA, if any. */
export function trustedCas(caPem: string | undefined): string[] | undefined {
  return caPem ? [...tls.rootCertificates, caPem] : undefined;
}

export interface GetResponse {
  status: number;
  body: IncomingMessage;
  text(): Promise<string>;
}

/**
 * GET `url` (http or https) with `headers`, verifying the server's certificate against `ca` (when given) or the
 * system's roots. Redirects are not followed: the master never sends one for what the agent asks.
 */
export function get(url: string, opts: { headers?: Record<string, string>; ca?: string[]; timeoutMs?: number } = {}): Promise<GetResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
  if (!mod) return Promise.reject(new Error(`unsupported URL scheme ${u.protocol} in ${url}`));
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { headers: opts.headers ?? {}, ...(u.protocol === 'https:' && opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      resolve({
        status: res.statusCode ?? 0,
        body: res,
        text: async () => {
          const chunks: Buffer[] = [];
          let n = 0;
          for await (const c of res) {
            if (n < 64 * 1024) chunks.push(c as Buffer);
            n += (c as Buffer).length;
          }
          return Buffer.concat(chunks).toString('utf8').slice(0, 64 * 1024);
        },
      });
    });
    req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(new Error(`GET ${url}: no answer in ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s`)));
    req.on('error', reject);
  });
}
