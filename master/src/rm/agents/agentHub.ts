// Live agent connections (one WebSocket each). Holds only what the sockets tell us; the allocation state
// lives in the database and is reconciled when an agent says hello.
import type { WebSocket } from 'ws';
import type { AgentToMaster, Device, MasterToAgent, RunningTask } from '@hone/protocol';

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
    socket.on('message', (data) => {
      let msg: AgentToMaster;
      try {
        msg = JSON.parse(String(data)) as AgentToMaster;
      } catch {
        this.log.warn({}, 'agent sent a message that is not JSON; closing');
        socket.close(1003, 'invalid message');
        return;
      }
      chain = chain.then(async () => {
        try {
          if (msg.type === 'hello') {
            if (!msg.agentId || !Array.isArray(msg.devices)) {
              socket.close(1008, 'hello must carry agentId and devices');
              return;
            }
            const prev = this.agents.get(msg.agentId);
            if (prev && prev.socket !== socket) prev.socket.close(4000, 'replaced by a new connection');
            agent = {
              id: msg.agentId,
              pool: msg.resourcePool || 'default',
              hostname: msg.hostname ?? '',
              version: msg.version ?? '',
              devices: msg.devices,
              socket,
              connectedAt: Date.now(),
              lastSeen: Date.now(),
            };
            this.agents.set(agent.id, agent);
            this.log.info({ agent: agent.id, pool: agent.pool, slots: agent.devices.length }, 'agent connected');
            await this.handlers.onHello(agent, msg.running ?? []);
            return;
          }
          if (!agent) {
            socket.close(1008, 'hello first');
            return;
          }
          agent.lastSeen = Date.now();
          await this.handlers.onMessage(agent, msg);
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'failed to handle agent message');
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
