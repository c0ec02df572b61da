// Live agent connections (one WebSocket each). Holds only what the sockets tell us; the allocation state
// lives in the database and is reconciled when an agent says hello. A hello is admitted (agentCredentials.ts)
// before it may take an agent id: only then does it replace that id's previous connection.
import type { WebSocket } from 'ws';
import type { AgentToMaster, Device, MasterToAgent, RunningTask } from '@hone/protocol';
import { checkAgentMessage } from '@hone/protocol/agentSchemas';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import type { ClusterTokenCheck } from './agentCredentials';

export interface ConnectedAgent {
  id: string;
  pool: string;
  hostname: string;
  version: string;
  devices: Device[];
  socket: WebSocket;
  connectedAt: number;
  lastSeen: number;
  /** A secret issued at this hello, until the welcome carries it to the agent (then dropped). */
  issuedSecret?: string;
  /** The agent's outbox as its hello described it (agents that number their messages). */
  outbox?: { epoch: string; firstSeq: number };
  /** Where this master stands in that outbox: the highest seq stored (set when the hello is handled). */
  storedSeq?: number;
  /** Ranks whose exit reports the agent has queued (they follow the hello). */
  exiting?: Array<{ allocationId: string; rank: number }>;
}

export type AgentHello = Extract<AgentToMaster, { type: 'hello' }>;

/** What the connection's upgrade request said about itself. */
export interface ConnectionInfo {
  token: ClusterTokenCheck;
  remote?: string;
}

/** Admits a hello, or says why not (a close code and reason). `live`: another connection holds this id now. */
export type Admission = (
  hello: AgentHello,
  conn: ConnectionInfo & { live: boolean },
) => Promise<{ admit: true; issuedSecret?: string } | { admit: false; code: number; reason: string }>;

export interface AgentHubHandlers {
  onHello(agent: ConnectedAgent, running: RunningTask[]): Promise<void>;
  onMessage(agent: ConnectedAgent, msg: AgentToMaster): Promise<void>;
  onDisconnect(agent: ConnectedAgent): Promise<void>;
}

export class AgentHub {
  readonly agents = new Map<string, ConnectedAgent>();
  /** Admission of hellos; until one is installed every hello is refused (fail closed). */
  private admission: Admission | null = null;
  /** Hellos for one agent id are admitted one at a time, so two connections never both take a new id. */
  private readonly admitting = new Map<string, Promise<void>>();
  constructor(private readonly handlers: AgentHubHandlers, private readonly log: { warn: (o: object, m: string) => void; info: (o: object, m: string) => void }) {}

  /** Installs the admission check (the resource manager, which keeps the credentials). */
  useAdmission(admission: Admission): void {
    this.admission = admission;
  }

  /** Attaches a freshly accepted socket; the agent identifies itself with its first message (`hello`). */
  attach(socket: WebSocket, info: ConnectionInfo = { token: 'missing' }): void {
    let agent: ConnectedAgent | null = null;
    let refused = false;
    // Messages are handled strictly in order per agent.
    let chain: Promise<void> = Promise.resolve();
    const refuse = (code: number, reason: string, agentId = agent?.id) => {
      if (refused) return;
      refused = true;
      this.log.warn({ agent: agentId, code, reason, ...(info.remote ? { remote: info.remote } : {}) }, 'refused an agent message; closing its connection');
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
        if (refused) return;
        try {
          if (msg.type === 'hello') {
            if (agent) {
              refuse(AGENT_CLOSE_CODES.INVALID_MESSAGE, `a second hello on one connection (this one is agent ${agent.id})`);
              return;
            }
            await this.exclusive(msg.agentId, async () => {
              if (socket.readyState !== socket.OPEN) return;
              const prev = this.agents.get(msg.agentId);
              const live = !!prev && prev.socket !== socket;
              const verdict = this.admission ? await this.admission(msg, { ...info, live }) : { admit: false as const, code: AGENT_CLOSE_CODES.UNAUTHENTICATED, reason: 'this master admits no agents' };
              if (!verdict.admit) {
                refuse(verdict.code, verdict.reason, msg.agentId);
                return;
              }
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
                ...(verdict.issuedSecret ? { issuedSecret: verdict.issuedSecret } : {}),
                ...(msg.outbox ? { outbox: msg.outbox } : {}),
                ...(msg.exiting ? { exiting: msg.exiting } : {}),
              };
              this.agents.set(agent.id, agent);
              this.log.info({ agent: agent.id, pool: agent.pool, slots: agent.devices.length, newCredential: !!verdict.issuedSecret }, 'agent connected');
              try {
                await this.handlers.onHello(agent, msg.running);
              } catch (e) {
                // Not admitted after all (the database is away, say): the agent retries its hello with backoff,
                // its queued messages still in its outbox.
                this.log.warn({ agent: agent.id, err: (e as Error).message }, 'could not handle an agent hello; closing its connection');
                if (this.agents.get(agent.id)?.socket === socket) this.agents.delete(agent.id);
                refused = true;
                socket.close(1011, 'the master could not record the hello; retry');
              }
            });
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

  /** Runs `fn` after every earlier admission of `agentId` has finished. */
  private async exclusive(agentId: string, fn: () => Promise<void>): Promise<void> {
    const before = this.admitting.get(agentId) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const settled = mine.catch(() => undefined);
    this.admitting.set(agentId, settled);
    try {
      await mine;
    } finally {
      if (this.admitting.get(agentId) === settled) this.admitting.delete(agentId);
    }
  }

  /** Closes the connection of `agentId`, if any (its credential was reset, say). */
  disconnect(agentId: string, code: number, reason: string): void {
    this.agents.get(agentId)?.socket.close(code, closeReason(reason));
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
