// Serves a MemoryMaster over the master's REST paths, so tests can drive the real HttpMasterClient and the
// harness process end to end without the real master.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_PREFIX } from '@hone/protocol';
import type { MemoryMaster } from './memoryMaster';

export interface FakeMasterServer {
  url: string;
  requests: string[];
  /** Answer the next n requests with 503 (a restarting master). */
  failNext(n: number): void;
  close(): Promise<void>;
}

export async function serveMemoryMaster(master: MemoryMaster, token = 'test-token'): Promise<FakeMasterServer> {
  const requests: string[] = [];
  let failures = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const p = url.pathname.slice(API_PREFIX.length);
        requests.push(`${req.method} ${p}`);
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (failures > 0) {
          failures -= 1;
          return send(503, { error: { code: 'UNAVAILABLE', message: 'restarting' } });
        }
        if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: { code: 'UNAUTHENTICATED', message: 'bad token' } });
        const body = Buffer.concat(chunks);
        const json = () => JSON.parse(body.toString('utf8') || '{}');
        const waitS = Number(url.searchParams.get('wait_s') ?? 0);
        let m: RegExpExecArray | null;
        try {
          if ((m = /^\/allocations\/([^/]+)\/info$/.exec(p))) return send(200, await master.getAllocationInfo(decodeURIComponent(m[1]!), Number(url.searchParams.get('rank') ?? 0)));
          if ((m = /^\/allocations\/([^/]+)\/preemption$/.exec(p))) return send(200, { preempt: await master.getPreemption(m[1]!, waitS) });
          if ((m = /^\/allocations\/([^/]+)\/rendezvous$/.exec(p))) {
            if (req.method === 'POST') {
              const b = json();
              await master.postRendezvous(m[1]!, b.rank, b.address);
              return send(200, {});
            }
            const a = await master.getRendezvous(m[1]!, waitS);
            return a ? send(200, { addresses: a }) : send(409, { error: { code: 'CONFLICT', message: 'waiting for ranks' } });
          }
          if ((m = /^\/trials\/(\d+)\/searcher\/operation$/.exec(p))) return send(200, await master.getSearcherOperation(Number(m[1]), waitS));
          if ((m = /^\/trials\/(\d+)\/searcher\/completed_operation$/.exec(p))) {
            await master.completeOperation(Number(m[1]), json());
            return send(200, {});
          }
          if ((m = /^\/trials\/(\d+)\/searcher\/progress$/.exec(p))) {
            await master.reportProgress(Number(m[1]), json());
            return send(200, {});
          }
          if ((m = /^\/trials\/(\d+)\/metrics$/.exec(p))) {
            await master.reportMetrics(Number(m[1]), json());
            return send(200, { accepted: json().points.length });
          }
          if ((m = /^\/trials\/(\d+)\/checkpoints$/.exec(p))) return send(200, await master.reportCheckpoint(Number(m[1]), json()));
          if ((m = /^\/checkpoints\/([^/]+)$/.exec(p))) return send(200, await master.getCheckpoint(m[1]!));
          if ((m = /^\/checkpoints\/([^/]+)\/files\/(.+)$/.exec(p))) {
            const rel = m[2]!.split('/').map(decodeURIComponent).join('/');
            if (req.method === 'PUT') {
              await master.uploadCheckpointFile(m[1]!, rel, new Uint8Array(body));
              return send(200, {});
            }
            const data = await master.downloadCheckpointFile(m[1]!, rel);
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            return res.end(Buffer.from(data));
          }
          send(404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${p}` } });
        } catch (e) {
          send(400, { error: { code: 'INVALID_ARGUMENT', message: (e as Error).message } });
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (n) => (failures = n),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
