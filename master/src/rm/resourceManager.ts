// The agent resource manager: turns trials that want to run into allocations, asks the pure scheduler where
// they go, and carries that out on agents (start, preempt, kill). All decisions come from database state, so
// a restarted master picks up where it left off; effects are keyed by allocation id and safe to repeat.
import crypto from 'node:crypto';
import type { AgentToMaster, LogLine, RunningTask, StartTask } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import type { Database } from '../db';
import type { EventBus } from '../events';
import type { ExperimentController } from '../experiments/controller';
import type { AgentHub, ConnectedAgent } from './agents/agentHub';
import { planInputFrom, planScheduling, type AllocationRow } from './scheduling';

export interface Placement {
  agentId: string;
  devices: number[];
}

export interface ResourceManagerOptions {
  masterUrl: string;
  /** How long an agent may be gone before its allocations are declared lost. */
  agentGraceMs: number;
  /** How long a preempted allocation gets to checkpoint and exit before it is killed. */
  preemptionTimeoutMs: number;
  policy: 'priority' | 'fair_share';
  fit: 'best' | 'worst';
  preemption: boolean;
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
}

interface LiveAllocation extends AllocationRow {
  trial_id: number;
  token: string;
  kill_requested: boolean;
  entrypoint: string;
  env: Record<string, string>;
}

export class ResourceManager {
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<void> | null = null;
  private again = false;
  private lastPass = 0;
  private stopped = false;
  private readonly startedAt = Date.now();
  private readonly disconnectedAt = new Map<string, number>();
  /** allocation id -> rank -> exit code (null: killed by signal) */
  private readonly exits = new Map<string, Map<number, number | null>>();
  private readonly killSent = new Set<string>();
  private readonly preemptSentAt = new Map<string, number>();
  private readonly running = new Map<string, Set<number>>();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly experiments: ExperimentController,
    private hub: AgentHub | null,
    private readonly opts: ResourceManagerOptions,
  ) {}

  setHub(hub: AgentHub): void {
    this.hub = hub;
  }

  start(): void {
    this.timer = setInterval(() => this.requestPass(), 1000);
    this.requestPass();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.pending?.catch(() => undefined);
  }

  /** Asks for a scheduling pass soon; passes are coalesced with a short minimum interval. */
  requestPass(): void {
    if (this.stopped) return;
    if (this.pending) {
      this.again = true;
      return;
    }
    const wait = Math.max(0, this.lastPass + 50 - Date.now());
    this.pending = new Promise<void>((r) => setTimeout(r, wait))
      .then(() => this.pass())
      .catch((e) => this.opts.log.warn({ err: (e as Error).stack }, 'scheduling pass failed'))
      .finally(() => {
        this.lastPass = Date.now();
        this.pending = null;
        if (this.again) {
          this.again = false;
          this.requestPass();
        }
      });
  }

  private async pass(): Promise<void> {
    if (this.stopped || !this.hub) return;
    await this.requestAllocations();
    await this.declareLost();
    const live = await this.loadLive();
    const input = planInputFrom(this.hub.agents.values(), live, { policy: this.opts.policy, fit: this.opts.fit, preemption: this.opts.preemption });
    const plan = planScheduling(input);
    const byId = new Map(live.map((a) => [a.id, a]));
    for (const as of plan.assign) {
      const a = byId.get(as.allocationId);
      if (!a) continue;
      const r = await this.db.query(`UPDATE allocations SET state = 'ASSIGNED', placement = $2 WHERE id = $1 AND state = 'PENDING' RETURNING id`, [
        a.id,
        JSON.stringify(as.placement),
      ]);
      if (!r.rows.length) continue;
      a.state = 'ASSIGNED';
      a.placement = as.placement;
      this.launch(a);
    }
    if (plan.preempt.length) {
      await this.db.query(`UPDATE allocations SET preempt_requested = true WHERE id = ANY($1) AND state IN ('ASSIGNED','RUNNING')`, [plan.preempt]);
      for (const id of plan.preempt) this.bus.publish({ type: 'allocation', allocationId: id });
    }
    const now = Date.now();
    for (const a of live) {
      if (a.kill_requested && !this.killSent.has(a.id)) {
        this.signal(a, 'kill');
        this.killSent.add(a.id);
      }
      if (a.preempt_requested && !a.kill_requested) {
        const since = this.preemptSentAt.get(a.id) ?? now;
        this.preemptSentAt.set(a.id, since);
        this.bus.publish({ type: 'allocation', allocationId: a.id });
        if (now - since > this.opts.preemptionTimeoutMs) {
          this.opts.log.warn({ allocation: a.id }, 'preempted allocation did not exit in time; killing it');
          await this.db.query('UPDATE allocations SET kill_requested = true WHERE id = $1', [a.id]);
        }
      }
    }
    if (plan.assign.length || plan.preempt.length) this.bus.publish({ type: 'cluster' });
  }

  /** Creates a PENDING allocation for each trial that has work and nothing live. */
  private async requestAllocations(): Promise<void> {
    await this.experiments.run(async (tx) => {
      const r = await tx.query<{ id: number; experiment_id: number; slots: number; pool: string }>(
        `SELECT t.id, t.experiment_id, (e.config->'resources'->>'slots_per_trial')::int AS slots, e.resource_pool AS pool
           FROM trials t JOIN experiments e ON e.id = t.experiment_id
          WHERE e.state = 'ACTIVE' AND t.state = 'ACTIVE' AND NOT t.closed AND t.target_length > t.completed_length
            AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.trial_id = t.id AND a.state <> 'TERMINATED')
          ORDER BY t.id`,
      );
      for (const t of r.rows) {
        await tx.query(
          `INSERT INTO allocations (id, trial_id, experiment_id, state, slots, resource_pool, token) VALUES ($1, $2, $3, 'PENDING', $4, $5, $6)`,
          [crypto.randomUUID(), t.id, t.experiment_id, t.slots, t.pool, crypto.randomBytes(24).toString('base64url')],
        );
      }
    });
  }

  private async loadLive(): Promise<LiveAllocation[]> {
    const r = await this.db.query<LiveAllocation>(
      `SELECT a.id, a.trial_id, a.experiment_id, a.state, a.slots, a.resource_pool, a.placement, a.token, a.preempt_requested,
              a.kill_requested, a.seq, e.priority, e.weight, e.max_slots, e.config->>'entrypoint' AS entrypoint,
              coalesce(e.config->'environment'->'variables', '{}'::jsonb) AS env
         FROM allocations a JOIN experiments e ON e.id = a.experiment_id
        WHERE a.state <> 'TERMINATED' ORDER BY a.seq`,
    );
    return r.rows;
  }

  private ranksOf(a: { placement: Placement[] | null }): Array<{ agentId: string; rank: number; devices: number[] }> {
    const out: Array<{ agentId: string; rank: number; devices: number[] }> = [];
    let rank = 0;
    for (const p of a.placement ?? []) for (const d of p.devices) out.push({ agentId: p.agentId, rank: rank++, devices: [d] });
    return out;
  }

  private launch(a: LiveAllocation): void {
    const ranks = this.ranksOf(a);
    for (const r of ranks) {
      const msg: StartTask = {
        type: 'startTask',
        allocationId: a.id,
        trialId: a.trial_id,
        experimentId: a.experiment_id,
        rank: r.rank,
        worldSize: ranks.length,
        devices: r.devices,
        entrypoint: a.entrypoint,
        contextUrl: `${this.opts.masterUrl}${API_PREFIX}/experiments/${a.experiment_id}/context`,
        env: {
          ...a.env,
          HONE_MASTER_URL: this.opts.masterUrl,
          HONE_TASK_TOKEN: a.token,
          HONE_ALLOCATION_ID: a.id,
          HONE_TRIAL_ID: String(a.trial_id),
          HONE_EXPERIMENT_ID: String(a.experiment_id),
          HONE_RANK: String(r.rank),
          HONE_WORLD_SIZE: String(ranks.length),
          HONE_ENTRYPOINT: a.entrypoint,
        },
      };
      if (!this.hub?.send(r.agentId, msg)) this.opts.log.warn({ allocation: a.id, agent: r.agentId }, 'could not send startTask');
    }
    this.opts.log.info({ allocation: a.id, trial: a.trial_id, placement: a.placement }, 'allocation assigned');
  }

  private signal(a: { id: string; placement: Placement[] | null }, signal: 'terminate' | 'kill'): void {
    for (const p of a.placement ?? []) this.hub?.send(p.agentId, { type: 'signalTask', allocationId: a.id, signal });
  }

  /** Allocations on agents that have been gone longer than the grace period are lost; their trials are retried. */
  private async declareLost(): Promise<void> {
    const now = Date.now();
    const live = await this.db.query<{ id: string; placement: Placement[] | null; kill_requested: boolean }>(
      `SELECT id, placement, kill_requested FROM allocations WHERE state IN ('ASSIGNED','RUNNING','TERMINATING')`,
    );
    for (const a of live.rows) {
      const gone = (a.placement ?? []).some((p) => {
        if (this.hub?.agents.has(p.agentId)) return false;
        const since = this.disconnectedAt.get(p.agentId) ?? this.startedAt;
        return now - since > this.opts.agentGraceMs;
      });
      if (gone) {
        this.opts.log.warn({ allocation: a.id }, 'allocation lost: its agent did not come back');
        await this.finish(a.id, { exitCode: null, reason: a.kill_requested ? 'killed' : 'lost', failed: !a.kill_requested, countsAsRestart: false });
      }
    }
  }

  private async finish(allocationId: string, outcome: { exitCode: number | null; reason: string; failed: boolean; countsAsRestart: boolean }) {
    this.exits.delete(allocationId);
    this.running.delete(allocationId);
    this.killSent.delete(allocationId);
    this.preemptSentAt.delete(allocationId);
    await this.experiments.allocationEnded(allocationId, outcome);
    this.bus.publish({ type: 'allocation', allocationId });
    this.requestPass();
  }

  // ---- agent events ----

  async onHello(agent: ConnectedAgent, running: RunningTask[]): Promise<void> {
    this.disconnectedAt.delete(agent.id);
    await this.db.query(
      `INSERT INTO agents (id, resource_pool, hostname, devices, version, connected, last_seen) VALUES ($1, $2, $3, $4, $5, true, now())
       ON CONFLICT (id) DO UPDATE SET resource_pool = $2, hostname = $3, devices = $4, version = $5, connected = true, last_seen = now()`,
      [agent.id, agent.pool, agent.hostname, JSON.stringify(agent.devices), agent.version],
    );
    this.hub?.send(agent.id, { type: 'welcome', masterVersion: '0.1.0', heartbeatIntervalMs: 5000 });
    const live = await this.loadLive();
    const liveById = new Map(live.map((a) => [a.id, a]));
    // Tasks the agent runs that we do not know as live: stop them.
    for (const t of running) {
      const a = liveById.get(t.allocationId);
      if (!a || !(a.placement ?? []).some((p) => p.agentId === agent.id)) {
        this.hub?.send(agent.id, { type: 'signalTask', allocationId: t.allocationId, signal: 'kill' });
      } else {
        if (!this.running.has(a.id)) this.running.set(a.id, new Set());
        this.running.get(a.id)!.add(t.rank);
        if (a.state === 'ASSIGNED') await this.db.query(`UPDATE allocations SET state = 'RUNNING', started_at = coalesce(started_at, now()) WHERE id = $1`, [a.id]);
      }
    }
    // Ranks we placed on this agent that it does not report: never started (resend, the agent de-duplicates)
    // or ended while we were away (the agent replays queued exits right after hello; otherwise it is lost).
    const reported = new Set(running.map((t) => `${t.allocationId}/${t.rank}`));
    const missing: LiveAllocation[] = [];
    for (const a of live) {
      const ranks = this.ranksOf(a).filter((r) => r.agentId === agent.id);
      if (!ranks.length) continue;
      if (ranks.some((r) => !reported.has(`${a.id}/${r.rank}`))) missing.push(a);
    }
    if (missing.length) {
      setTimeout(() => {
        void this.checkMissing(agent.id, missing.map((a) => a.id)).catch(() => undefined);
      }, 3000);
    }
    this.bus.publish({ type: 'cluster' });
    this.requestPass();
  }

  private async checkMissing(agentId: string, ids: string[]): Promise<void> {
    const r = await this.db.query<LiveAllocation>(`SELECT id, state, placement, kill_requested FROM allocations WHERE id = ANY($1) AND state <> 'TERMINATED'`, [ids]);
    for (const a of r.rows) {
      const ranks = this.ranksOf(a).filter((x) => x.agentId === agentId);
      const seen = this.running.get(a.id);
      const exits = this.exits.get(a.id);
      const unaccounted = ranks.filter((x) => !seen?.has(x.rank) && !exits?.has(x.rank));
      if (!unaccounted.length) continue;
      if (a.state === 'ASSIGNED' && !a.kill_requested) {
        // Never started: the startTask was lost with the previous master. Start it again.
        const full = (await this.loadLive()).find((x) => x.id === a.id);
        if (full) this.launch(full);
      } else {
        await this.finish(a.id, { exitCode: null, reason: a.kill_requested ? 'killed' : 'lost', failed: !a.kill_requested, countsAsRestart: false });
      }
    }
  }

  async onDisconnect(agent: ConnectedAgent): Promise<void> {
    this.disconnectedAt.set(agent.id, Date.now());
    await this.db.query('UPDATE agents SET connected = false, last_seen = now() WHERE id = $1', [agent.id]);
    this.bus.publish({ type: 'cluster' });
  }

  async onMessage(agent: ConnectedAgent, msg: AgentToMaster): Promise<void> {
    switch (msg.type) {
      case 'heartbeat':
        return;
      case 'logBatch':
        await this.storeLogs(agent.id, msg.allocationId, msg.trialId, msg.logs);
        return;
      case 'taskState':
        if (msg.state === 'running') {
          if (!this.running.has(msg.allocationId)) this.running.set(msg.allocationId, new Set());
          this.running.get(msg.allocationId)!.add(msg.rank);
          await this.db.query(`UPDATE allocations SET state = 'RUNNING', started_at = coalesce(started_at, now()) WHERE id = $1 AND state = 'ASSIGNED'`, [
            msg.allocationId,
          ]);
          this.bus.publish({ type: 'cluster' });
          return;
        }
        await this.onTaskExit(msg.allocationId, msg.rank, msg.exitCode ?? null);
        return;
      default:
        return;
    }
  }

  private async onTaskExit(allocationId: string, rank: number, exitCode: number | null): Promise<void> {
    const r = await this.db.query<{ id: string; state: string; placement: Placement[] | null; kill_requested: boolean; preempt_requested: boolean }>(
      'SELECT id, state, placement, kill_requested, preempt_requested FROM allocations WHERE id = $1',
      [allocationId],
    );
    const a = r.rows[0];
    if (!a || a.state === 'TERMINATED') return;
    if (!this.exits.has(allocationId)) this.exits.set(allocationId, new Map());
    const exits = this.exits.get(allocationId)!;
    exits.set(rank, exitCode);
    this.running.get(allocationId)?.delete(rank);
    const total = this.ranksOf(a).length;
    const failedRank = [...exits.entries()].find(([, c]) => c !== 0);
    if (failedRank && exits.size < total && !this.killSent.has(allocationId)) {
      // One rank failed: the others cannot make progress; stop them now.
      this.signal(a, 'kill');
      this.killSent.add(allocationId);
    }
    if (exits.size < total) return;
    const killed = a.kill_requested;
    const failed = !!failedRank && !killed;
    await this.finish(allocationId, {
      exitCode: failedRank ? failedRank[1] : 0,
      reason: killed ? 'killed' : failed ? `rank ${failedRank![0]} exited with ${failedRank![1] ?? 'a signal'}` : a.preempt_requested ? 'preempted' : 'exited',
      failed,
      countsAsRestart: failed,
    });
  }

  private async storeLogs(agentId: string, allocationId: string, trialId: number, logs: LogLine[]): Promise<void> {
    if (!logs.length) return;
    const values: unknown[] = [];
    const rows: string[] = [];
    for (const l of logs) {
      const i = values.length;
      rows.push(`($${i + 1}, $${i + 2}, $${i + 3}, $${i + 4}, $${i + 5}, $${i + 6}, $${i + 7}, $${i + 8})`);
      values.push(trialId, allocationId, agentId, l.rank, l.stream, levelOf(l.line, l.stream), l.ts, l.line);
    }
    const r = await this.db.query<any>(
      `INSERT INTO task_logs (trial_id, allocation_id, agent_id, rank, stream, level, ts, line) VALUES ${rows.join(',')}
       RETURNING id, trial_id, allocation_id, agent_id, rank, stream, level, ts, line`,
      values,
    );
    for (const row of r.rows) {
      this.bus.publish({
        type: 'log',
        log: {
          id: Number(row.id),
          trialId: Number(row.trial_id),
          allocationId: row.allocation_id,
          agentId: row.agent_id,
          rank: row.rank,
          stream: row.stream,
          level: row.level,
          ts: row.ts instanceof Date ? row.ts.toISOString() : String(row.ts),
          line: row.line,
        },
      });
    }
  }
}

/** A log line's level, from common prefixes (ERROR, WARN, ...) or the stream it came on. */
export function levelOf(line: string, stream: string): string {
  const m = /\b(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b/.exec(line.slice(0, 64));
  if (m) return m[1] === 'WARNING' ? 'WARN' : m[1] === 'CRITICAL' ? 'FATAL' : m[1]!;
  return stream === 'stderr' ? 'ERROR' : 'INFO';
}
