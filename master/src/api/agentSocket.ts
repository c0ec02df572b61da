// WebSocket endpoint for agents: /agents. The upgrade's `Authorization: Bearer <agent token>` is checked here and
// handed to the hub with the connection: whether it admits the agent is decided at its hello (a known agent is
// admitted by its own secret, a new one by the cluster agent token; see rm/agents/agentCredentials.ts).
import type { App, MasterContext } from '../context';
import { checkClusterToken } from '../rm/agents/agentCredentials';
import { bearer } from './taskAuth';

export function registerAgentSocket(app: App, ctx: MasterContext): void {
  app.get('/agents', { websocket: true, schema: { hide: true } }, (socket: any, req: any) => {
    ctx.agents.attach(socket, { token: checkClusterToken(ctx.opts.agentToken, bearer(req)), remote: req.ip });
  });
}
