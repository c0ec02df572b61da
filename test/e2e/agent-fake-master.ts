// A stand-in master for agent tests: the /agents WebSocket (hello → welcome, records what the agent sends, lets
// the test send startTask) and the few REST routes a single-rank harness calls (allocation info, preemption,
// the model archive), over http or https. Not a test file: the agent-*.test.ts files use it.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AgentToMaster, AllocationInfo, MasterToAgent } from '@hone/protocol';

export interface FakeMaster {
  url: string;
  hellos: Array<Extract<AgentToMaster, { type: 'hello' }>>;
  received: AgentToMaster[];
  /** Every log line shipped, in order. */
  lines(): string[];
  send(agentId: string, msg: MasterToAgent): void;
  close(): Promise<void>;
}

export interface FakeMasterOptions {
  tls?: { key: string; cert: string };
  /** The model archive served at /api/v1/experiments/:id/context (to the task token). */
  context: () => Buffer | null;
  taskToken: string;
  allocationInfo: (allocationId: string, rank: number) => AllocationInfo;
  /** The agent secret sent in welcome. */
  agentSecret?: string;
}

export async function startFakeMaster(opts: FakeMasterOptions): Promise<FakeMaster> {
  const hellos: FakeMaster['hellos'] = [];
  const received: AgentToMaster[] = [];
  const sockets = new Map<string, WebSocket>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const authorized = req.headers.authorization === `Bearer ${opts.taskToken}`;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!authorized) return json(401, { error: { code: 'UNAUTHENTICATED', message: 'task token required' } });
    let m: RegExpMatchArray | null;
    if ((m = url.pathname.match(/^\/api\/v1\/experiments\/\d+\/context$/))) {
      const ctx = opts.context();
      if (!ctx) {
        res.writeHead(204);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/gzip' });
      return res.end(ctx);
    }
    if ((m = url.pathname.match(/^\/api\/v1\/allocations\/([^/]+)\/info$/))) return json(200, opts.allocationInfo(decodeURIComponent(m[1]!), Number(url.searchParams.get('rank') ?? 0)));
    if (url.pathname.match(/^\/api\/v1\/allocations\/[^/]+\/preemption$/)) {
      const t = setTimeout(() => json(200, { preempt: false }), 1000);
      req.on('close', () => clearTimeout(t));
      return;
    }
    return json(200, {});
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  const wss = new WebSocketServer({ server, path: '/agents' });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as AgentToMaster;
      received.push(msg);
      if (msg.type === 'hello') {
        hellos.push(msg);
        sockets.set(msg.agentId, ws);
        ws.send(JSON.stringify({ type: 'welcome', masterVersion: 'fake', heartbeatIntervalMs: 5000, ...(opts.agentSecret ? { agentSecret: opts.agentSecret } : {}) }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    hellos,
    received,
    lines: () => received.flatMap((m) => (m.type === 'logBatch' ? m.logs.map((l) => l.line) : [])),
    send: (agentId, msg) => sockets.get(agentId)?.send(JSON.stringify(msg)),
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
