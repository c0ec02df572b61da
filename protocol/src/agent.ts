// Master <-> agent WebSocket messages (JSON, one message per frame). Path: /agents, header
// `Authorization: Bearer <agent token>` when the master requires one.
//
// Credentials: a new agent id joins with the cluster agent token (when the master has one); the master then
// issues that agent its own secret in `welcome.agentSecret` (it keeps only a hash). The agent stores it and
// presents it as `hello.agentSecret` in every later hello. A hello for a known agent id without its secret is
// refused with AGENT_CLOSE_CODES.CREDENTIAL_REFUSED, even while that agent is connected; with the right secret
// it replaces the agent's stale connection.

export interface Device {
  /** Index as the agent numbers its slots (GPU index for GPUs). */
  id: number;
  type: 'gpu' | 'cpu';
  brand: string;
  uuid: string;
  memoryMiB?: number;
}

/** A task the agent runs: one rank of one allocation. */
export interface RunningTask {
  allocationId: string;
  rank: number;
  pid: number;
}

// Delivery: taskState and logBatch carry `seq` (from agents that keep an outbox, see agent/src/outbox.ts). The
// master answers `ack` with the highest seq it has stored, after storing it (cumulative: all below are stored
// too); it stores each seq once, in order, and ignores one past a gap (an earlier one failed to store and comes
// again). Messages without `seq` (older agents) are handled as they come and not acknowledged.

export type AgentToMaster =
  | {
      type: 'hello';
      agentId: string;
      resourcePool: string;
      devices: Device[];
      running: RunningTask[];
      version: string;
      hostname: string;
      /** The secret the master issued to this agent id (absent at the first hello of a new agent). */
      agentSecret?: string;
      /**
       * The agent's outbox (agents that number their messages): its epoch (a random id; a new one restarts the
       * numbering) and the lowest seq it may still send (everything below was acknowledged).
       */
      outbox?: { epoch: string; firstSeq: number };
      /** Ranks that exited while no master heard it: their exit reports follow in the outbox (not lost, not running). */
      exiting?: Array<{ allocationId: string; rank: number }>;
    }
  | { type: 'taskState'; seq?: number; allocationId: string; rank: number; state: 'running' | 'exited'; exitCode?: number | null; signal?: string | null; message?: string }
  | {
      type: 'logBatch';
      seq?: number;
      allocationId: string;
      trialId: number;
      logs: LogLine[];
      /** Where the lines came from: byte offsets [from, to) of one rank's output file (the agent resumes there). */
      source?: { rank: number; stream: 'stdout' | 'stderr'; from: number; to: number };
    }
  | { type: 'heartbeat'; time: number };

export interface LogLine {
  rank: number;
  stream: 'stdout' | 'stderr';
  /** ISO timestamp from the agent's clock. */
  ts: string;
  line: string;
}

export interface StartTask {
  type: 'startTask';
  allocationId: string;
  trialId: number;
  experimentId: number;
  rank: number;
  worldSize: number;
  /** Agent device ids this rank may use. */
  devices: number[];
  /** Environment for the harness: master URL, task token, rank info, user variables. */
  env: Record<string, string>;
  /** Where to fetch the model directory (a gzipped tar) with the task token. */
  contextUrl: string;
  entrypoint: string;
}

export type MasterToAgent =
  | StartTask
  | { type: 'signalTask'; allocationId: string; signal: 'terminate' | 'kill' }
  /**
   * The experiment ended: none of its trials will start again, so harness processes kept waiting for its next
   * trial can go (the agent's pool then fills with pre-warmed ones that any experiment can take).
   */
  | { type: 'experimentEnded'; experimentId: number }
  /** Every message up to `seq` of the agent's current outbox epoch is stored. */
  | { type: 'ack'; seq: number }
  | {
      type: 'welcome';
      masterVersion: string;
      heartbeatIntervalMs: number;
      /** Sent once, when the master issued this agent id a new credential: present it in every later hello. */
      agentSecret?: string;
      /** This master acknowledges sequenced messages (an agent keeps them queued until then). */
      acks?: boolean;
    };
