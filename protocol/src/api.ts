// REST bodies under /api/v1: plain types shared by the CLI, the UI and the harness. The master validates request
// bodies with the TypeBox schemas in ./schemas (published in the OpenAPI document at /api/v1/openapi.json).
import type { ExperimentConfig } from './config';
import type { HParams } from './hyperparameters';
import type { AuditEntry } from './auth';

export const API_PREFIX = '/api/v1';

export type ExperimentState = 'ACTIVE' | 'PAUSED' | 'STOPPING_COMPLETED' | 'STOPPING_CANCELED' | 'COMPLETED' | 'CANCELED' | 'ERROR' | 'DELETING' | 'DELETE_FAILED';
export type TrialState = 'ACTIVE' | 'PAUSED' | 'STOPPING_COMPLETED' | 'STOPPING_CANCELED' | 'STOPPING_ERROR' | 'COMPLETED' | 'CANCELED' | 'ERROR';
export type AllocationState = 'PENDING' | 'ASSIGNED' | 'RUNNING' | 'TERMINATING' | 'TERMINATED';
export const EXPERIMENT_STATES: readonly ExperimentState[] = ['ACTIVE', 'PAUSED', 'STOPPING_COMPLETED', 'STOPPING_CANCELED', 'COMPLETED', 'CANCELED', 'ERROR', 'DELETING', 'DELETE_FAILED'];
export const TERMINAL_EXPERIMENT_STATES: ExperimentState[] = ['COMPLETED', 'CANCELED', 'ERROR'];
/**
 * An ended experiment being deleted (its files, then its rows: it disappears when done), or whose deletion failed
 * (`deleteError` says why; ask for the deletion again to retry). Nothing runs in either state.
 */
export const DELETION_EXPERIMENT_STATES: ExperimentState[] = ['DELETING', 'DELETE_FAILED'];
export const TERMINAL_TRIAL_STATES: TrialState[] = ['COMPLETED', 'CANCELED', 'ERROR'];

/** POST /experiments. `config` is the YAML text (or an object); `context` the model directory as base64 tar.gz. */
/** POST /experiments. `config` is the YAML text (or an object); `context` the model directory as base64 tar.gz. */
export interface CreateExperimentBody {
  config: string | Record<string, unknown>;
  context?: string;
  activate?: boolean;
}

export interface ExperimentSummary {
  id: number;
  name: string;
  state: ExperimentState;
  searcher: string;
  metric: string;
  smallerIsBetter: boolean;
  resourcePool: string;
  priority: number;
  weight: number;
  maxSlots: number | null;
  numTrials: number;
  trialStates: Partial<Record<TrialState, number>>;
  bestMetric: number | null;
  progress: number;
  user: string;
  labels: string[];
  startTime: string;
  endTime: string | null;
  /** Why the last deletion failed (state DELETE_FAILED). */
  deleteError?: string | null;
}

export interface ExperimentDetail extends ExperimentSummary {
  config: ExperimentConfig;
  configYaml: string;
  trials: TrialSummary[];
  /** Who did what to the experiment, oldest first. */
  audit?: AuditEntry[];
  /** ASHA family: per bracket and rung, its length, how many trials reported there, how many were promoted. */
  rungs?: Array<{ bracket?: number; rung?: number; length: number; trials: number; promoted?: number; best?: number | null }>;
}

export interface CheckpointInfo {
  uuid: string;
  trialId: number;
  experimentId: number;
  allocationId: string | null;
  stepsCompleted: number;
  storage: Record<string, unknown>;
  resources: Record<string, number>;
  metadata: Record<string, unknown>;
  state: 'COMPLETED' | 'DELETED';
  reportedAt: string;
  validationMetric?: number | null;
}

export interface TrialSummary {
  id: number;
  experimentId: number;
  requestId: string;
  state: TrialState;
  hparams: HParams;
  seed: number;
  /** Length the searcher asked for so far, and length trained and validated (searcher units, e.g. batches). */
  targetLength: number;
  completedLength: number;
  /**
   * Length trained so far, as the harness last reported it while training (at each validation and checkpoint),
   * in searcher units; at least `completedLength`. What "Length" and progress show while a trial runs.
   */
  trainedLength: number;
  restarts: number;
  /**
   * Why the trial's last failed run ended, in one line, for an ERROR trial and for one being retried: the exit
   * ("rank 1 exited with 1", "lost agent gpu-3") and the failing rank's last error line. null when nothing failed.
   */
  failure: string | null;
  bestValidation: number | null;
  latestValidation: Record<string, number> | null;
  latestTraining: Record<string, number> | null;
  latestCheckpoint: string | null;
  startTime: string;
  endTime: string | null;
}

/** One run of a trial: an allocation, from request to exit. A trial's restart history is its list of these. */
export interface AllocationSummary {
  id: string;
  state: 'PENDING' | 'ASSIGNED' | 'RUNNING' | 'TERMINATING' | 'TERMINATED';
  slots: number;
  /** Agents the ranks ran on, in rank order of their first rank. */
  agents: string[];
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
  /** 'exited', 'preempted', 'paused', 'killed', 'rank N exited with C', 'lost agent X', ... */
  exitReason: string | null;
  /** For a failed run: the last error line (stderr or ERROR level) of the failing rank, when it logged one. */
  lastError: string | null;
  /** Whether this run's end counted as a failure (against max_restarts, or a lost agent). */
  failed: boolean;
}

/** GET /trials/:id. */
export interface TrialDetail extends TrialSummary {
  checkpoints: CheckpointInfo[];
  /** Every run of the trial, oldest first (its restart history). */
  allocations: AllocationSummary[];
}

/** POST /trials/:id/searcher/progress: how far the current operation has trained (searcher units). */
export interface ReportProgressBody {
  length: number;
}

export interface MetricPoint {
  stepsCompleted: number;
  metrics: Record<string, number>;
  reportedAt?: string;
}

/** POST /trials/:id/metrics: a batch of points of one group. */
export interface ReportMetricsBody {
  group: 'training' | 'validation';
  points: Array<{ stepsCompleted: number; metrics: Record<string, number> }>;
}

/** What the harness gets for its allocation. */
export interface AllocationInfo {
  allocationId: string;
  trialId: number;
  experimentId: number;
  requestId: string;
  hparams: HParams;
  seed: number;
  config: ExperimentConfig;
  /** The checkpoint to resume from, if any. */
  latestCheckpoint: CheckpointInfo | null;
  /** Length already trained and validated (searcher units). */
  completedLength: number;
  rank: number;
  worldSize: number;
}

/** GET /trials/:id/searcher/operation: the length to train to, or none. */
export interface SearcherOperation {
  /** Train until the total length is this, then validate and report completion. */
  op: { length: number } | null;
  /** true when the trial will get no more work (stopped or experiment ending). */
  closed: boolean;
}

export interface CompleteOperationBody {
  length: number;
  metric: number;
}

export interface ReportCheckpointBody {
  uuid: string;
  stepsCompleted: number;
  resources: Record<string, number>;
  metadata?: Record<string, unknown>;
}

export interface RendezvousBody {
  rank: number;
  address: string;
}

export interface RendezvousInfo {
  /** Addresses indexed by rank, once every rank has posted. */
  addresses: string[];
}

export interface TaskLog {
  id: number;
  trialId: number;
  allocationId: string | null;
  agentId: string | null;
  rank: number | null;
  stream: string;
  level: string;
  ts: string;
  line: string;
}

export interface AgentInfo {
  id: string;
  resourcePool: string;
  hostname: string;
  state: 'CONNECTED' | 'DISCONNECTED';
  slots: SlotInfo[];
  lastSeen: string;
  version: string;
}

export interface SlotInfo {
  agentId: string;
  id: number;
  type: 'gpu' | 'cpu';
  brand: string;
  allocationId: string | null;
  trialId: number | null;
  experimentId: number | null;
}

export interface ResourcePoolInfo {
  name: string;
  agents: number;
  slots: number;
  slotsUsed: number;
  pendingAllocations: number;
  pendingSlots: number;
}

export interface JobInfo {
  allocationId: string;
  experimentId: number;
  trialId: number;
  state: AllocationState;
  slots: number;
  resourcePool: string;
  priority: number;
  weight: number;
  position: number;
  /** Why a pending job waits (no fit, priority, max_slots, pool). */
  reason: string | null;
  submittedAt: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}
