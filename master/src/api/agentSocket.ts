// WebSocket endpoint for agents: /agents. Bearer agent token when the master is configured with one.
import crypto from 'node:crypto';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import type { App, MasterContext } from '../context';
import { bearer } from './taskAuth';

export function registerAgentSocket(app: App, ctx: MasterContext): void {
  app.get('/agents', { websocket: true, schema: { hide: true } }, (socket: any, req: any) => {
    const expected = ctx.opts.agentToken;
    if (expected) {
      const got = bearer(req) ?? '';
      const ok = got.length === expected.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(expected));
      if (!ok) {
        ctx.log.warn({ remote: req.ip }, 'refused an agent connection: invalid agent token');
        socket.close(AGENT_CLOSE_CODES.UNAUTHENTICATED, 'invalid agent token');
        return;
      }
    }
    ctx.agents.attach(socket);
  });
}
