// WebSocket endpoint for agents: /agents (also /api/v1/agents/ws). Bearer agent token when configured.
import crypto from 'node:crypto';
import type { App, MasterContext } from '../server';
import { bearer } from './auth';

export function registerAgentSocket(app: App, ctx: MasterContext): void {
  const handler = (socket: any, req: any) => {
    const expected = ctx.opts.agentToken;
    if (expected) {
      const got = bearer(req) ?? '';
      const ok = got.length === expected.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(expected));
      if (!ok) {
        socket.close(4401, 'invalid agent token');
        return;
      }
    }
    ctx.hub.attach(socket);
  };
  app.get('/agents', { websocket: true, schema: { hide: true } }, handler);
}
