// The resource-manager seam: what the experiment controller and the API need from whatever runs allocations.
// The agent-based manager (`agents/`) is the first implementation; a Kubernetes manager is the second.
//
// Contract. The database is the source of truth: trials that want to run, and requests to stop allocations,
// are rows. A resource manager turns trials with work into allocations, places them, starts their ranks and
// carries out stop requests, all from database state, so that a restarted master picks up where it left off.
// Every effect it performs is keyed by allocation id and safe to repeat.
import type { AgentInfo, JobInfo, ResourcePoolInfo } from '@hone/protocol';
import type { Queryable } from '../db';
import type { FitCheck } from '../scheduler/types';

export interface ResourceManager {
  /** Starts periodic passes (call once the master listens). */
  start(): void;
  /** Stops passes and waits for the one in flight. */
  stop(): Promise<void>;
  /** Something changed (trials gained work, allocations were released): run a scheduling pass soon. Coalesced. */
  requestPass(): void;
  /**
   * Stops an experiment's allocations inside the caller's transaction: `preempt` asks running ones to checkpoint
   * and exit, `kill` ends them now; pending ones are withdrawn with `reason` as their exit reason.
   */
  releaseExperiment(tx: Queryable, experimentId: number, how: 'preempt' | 'kill', reason: string): Promise<void>;
  /** Whether a gang of `slots` could ever be placed in `pool`; checked at submit time. */
  canEverFit(pool: string, slots: number): Promise<FitCheck>;
  /** Agents (or nodes) and their slots, with what runs on each. */
  describeAgents(): Promise<AgentInfo[]>;
  describePools(): Promise<ResourcePoolInfo[]>;
  /** Live allocations in scheduling order, with why each pending one waits. */
  describeJobs(): Promise<JobInfo[]>;
  /** Connected capacity, for gauges. */
  capacity(): { agents: number; slots: number };
}
