// Live agent connections (one WebSocket each). Holds only what the sockets tell us; the allocation state
// lives in the database and is reconciled when an agent says hello.
import type { WebSocket } from 'ws';
import type { AgentToMaster, Device, MasterToAgent, RunningTask } from '@hone/protocol';
import { checkAgentMessage } from '@hone/protocol/agentSchemas';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';

export interface ConnectedAgent {
  id: string;
  pool: string;
  hostname: string;
  version: string;
  devices: Device[];
  socket: WebSocket;
  connectedAt: number;
  lastSeen: number;
}

export interface AgentHubHandlers {
  onHello(agent: ConnectedAgent, running: RunningTask[]): Promise<void>;
  onMessage(agent: ConnectedAgent, msg: AgentToMaster): Promise<void>;
  onDisconnect(agent: ConnectedAgent): Promise<void>;
}

export class AgentHub {
  readonly agents = new Map<string, ConnectedAgent>();
  constructor(private readonly handlers: AgentHubHandlers, private readonly log: { warn: (o: object, m: string) => void; info: (o: object, m: string) => void }) {}

  /** Attaches a freshly accepted socket; the agent identifies itself with its first message (`hello`). */
  attach(socket: WebSocket): void {
    let agent: ConnectedAgent | null = null;
    // Messages are handled strictly in order per agent.
    let chain: Promise<void> = Promise.resolve();
    const refuse = (code: number, reason: string) => {
      this.log.warn({ agent: agent?.id, code, reason }, 'refused an agent message; closing its connection');
      try {
        socket.close(code, closeReason(reason));
      } catch (e) {
        this.log.warn({ agent: agent?.id, err: (e as Error).message }, 'could not close an agent socket cleanly; terminating it');
        socket.terminate();
      }
    };
    socket.on('message', (data) => {
      const checked = checkAgentMessage(String(data));
      if (!checked.ok) {
        refuse(AGENT_CLOSE_CODES.INVALID_MESSAGE, checked.reason);
        return;
      }
      const msg = checked.message;
      chain = chain.then(async () => {
        try {
          if (msg.type === 'hello') {
            const prev = this.agents.get(msg.agentId);
            if (prev && prev.socket !== socket) prev.socket.close(AGENT_CLOSE_CODES.REPLACED, 'replaced by a new connection');
            agent = {
              id: msg.agentId,
              pool: msg.resourcePool || 'default',
              hostname: msg.hostname,
              version: msg.version,
              devices: msg.devices,
              socket,
              connectedAt: Date.now(),
              lastSeen: Date.now(),
            };
            this.agents.set(agent.id, agent);
            this.log.info({ agent: agent.id, pool: agent.pool, slots: agent.devices.length }, 'agent connected');
            await this.handlers.onHello(agent, msg.running);
            return;
          }
          if (!agent) {
            refuse(AGENT_CLOSE_CODES.HELLO_FIRST, `the first message must be hello, got ${msg.type}`);
            return;
          }
          agent.lastSeen = Date.now();
          await this.handlers.onMessage(agent, msg);
        } catch (e) {
          this.log.warn({ agent: agent?.id, type: msg.type, err: (e as Error).message }, 'failed to handle agent message');
        }
      });
    });
    socket.on('close', () => {
      chain = chain.then(async () => {
        if (agent && this.agents.get(agent.id)?.socket === socket) {
          this.agents.delete(agent.id);
          this.log.info({ agent: agent.id }, 'agent disconnected');
          await this.handlers.onDisconnect(agent).catch(() => undefined);
        }
      });
    });
    socket.on('error', () => undefined);
  }

  send(agentId: string, msg: MasterToAgent): boolean {
    const a = this.agents.get(agentId);
    if (!a || a.socket.readyState !== a.socket.OPEN) return false;
    a.socket.send(JSON.stringify(msg));
    return true;
  }

  closeAll(): void {
    for (const a of this.agents.values()) a.socket.close(1001, 'master shutting down');
  }
}

/** A WebSocket close reason is at most 123 bytes of UTF-8: cut at a character boundary, never inside one. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let out = '';
  for (const ch of reason) {
    if (Buffer.byteLength(out + ch) > 120) break;
    out += ch;
  }
  return `${out}…`;
}
