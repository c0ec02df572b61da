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
export interface CreateExperimentBody {
  config: string | Record<string, unknown>;
  context?: string;
  activate?: boolean;
  /** Project to put the experiment in (overrides the config's `project`; default `default`). */
  project?: string;
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
  // Experiment management (issue 16).
  /** The config's description, or as set with PATCH. */
  description: string;
  /** Project the experiment belongs to (`default` unless named). */
  project: string;
  /** Archived experiments are hidden from lists unless asked (`archived=true|all`). */
  archived: boolean;
  /** The experiment this one was forked from (POST /experiments/:id/fork). */
  forkedFrom: number | null;
  /** The trial this experiment continues or warm-starts from (POST /trials/:id/continue, or `source_trial_id`). */
  sourceTrialId: number | null;
}

export interface ExperimentDetail extends ExperimentSummary {
  config: ExperimentConfig;
  configYaml: string;
  trials: TrialSummary[];
  /** Who did what to the experiment, oldest first. */
  audit?: AuditEntry[];
  /** ASHA family: per bracket and rung, its length, how many trials reported there, how many were promoted. */
  rungs?: Array<{ bracket?: number; rung?: number; length: number; trials: number; promoted?: number; best?: number | null }>;
  /** Markdown notes (PATCH /experiments/:id { notes }). */
  notes: string;
  /** The checkpoint the experiment's trials warm-start from (`source_checkpoint_uuid`, or the source trial's latest). */
  sourceCheckpointUuid: string | null;
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
  /** What the trial ran with; null until its first run reported (or for trials from before the record existed). */
  reproducibility: ReproducibilityRecord | null;
  /** The checkpoint this trial warm-started from (fork of a trial, continue, `source_checkpoint_uuid`). */
  sourceCheckpointUuid: string | null;
  /** The trial that checkpoint belongs to. */
  sourceTrialId: number | null;
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
  /**
   * true when the searcher has no work for the trial now (it waits at an ASHA rung, say): the searcher decides when
   * an operation completes, so none comes to this allocation by waiting. The harness exits and gives its slot back; a
   * later promotion starts a new allocation. (Absent from older masters: the harness then waits as before.)
   */
  paused?: boolean;
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

// ---------------------------------------------------------------------------------------------------------------
// Experiment management (issue 16): fork / continue, archive, editing, projects, trial kill, logs filters,
// the model registry, trial comparison, the reproducibility record and the runs view. Routes in API-MGMT.md.

/**
 * POST /experiments/:id/fork. A new experiment from the original's model directory and config, with `config`
 * (YAML text or an object) merged onto the original config (objects merge key by key, anything else replaces).
 * Answers 201 with the new ExperimentSummary (its `forkedFrom` is the original).
 */
export interface ForkExperimentBody {
  config?: string | Record<string, unknown>;
  activate?: boolean;
  project?: string;
}

/**
 * POST /trials/:id/continue. A new single-trial experiment that trains the (ended) trial further from its latest
 * checkpoint: same model directory, config and hyperparameters, `searcher.max_length` set to `length` (in the
 * original's unit; the total length, so it must be more than the trial has trained). Answers 201 with the new
 * ExperimentSummary (its `sourceTrialId` is the trial). `config` overrides merge as for fork.
 */
export interface ContinueTrialBody {
  length: number;
  config?: string | Record<string, unknown>;
  activate?: boolean;
  project?: string;
}

/** PATCH /experiments/:id: editable fields (each optional; scheduling fields as before). */
export interface PatchExperimentBody {
  name?: string;
  description?: string;
  /** Markdown; at most 1 MiB. */
  notes?: string;
  /** The whole label list (use the label routes to add or remove one). */
  labels?: string[];
  /** Move to another (existing) project. */
  project?: string;
  priority?: number;
  weight?: number;
  max_slots?: number | null;
}

/** POST /experiments/:id/labels { label } adds one; DELETE /experiments/:id/labels/:label removes one. */
export interface LabelBody {
  label: string;
}

export interface ProjectInfo {
  id: number;
  name: string;
  description: string;
  /** Who created it (a grouping, not a permission: anyone may put experiments in any project). */
  owner: string;
  createdAt: string;
  numExperiments: number;
  /** Experiments not in a terminal state. */
  numActiveExperiments: number;
  /** Start time of its latest experiment. */
  lastExperimentStartedAt: string | null;
}

/** POST /projects. Names: 1–128 characters of letters, digits, `.`, `_`, `-` (not starting with `.`/`-`). */
export interface CreateProjectBody {
  name: string;
  description?: string;
}

/** PATCH /projects/:name. */
export interface PatchProjectBody {
  description?: string;
}

/**
 * GET /trials/:id/logs and GET /experiments/:id/logs query filters (all optional, combined with AND):
 * `rank` (integer), `level` (minimum level: TRACE < DEBUG < INFO < WARN < ERROR < FATAL), `grep` (a regular
 * expression, POSIX as PostgreSQL's `~`), `since` (ISO time or a duration such as `10m`, `2h`), and for the
 * experiment also `trial` (a trial id). Paging as before: `after_id`, `tail`, `limit`, `wait_s`.
 */
export interface LogFilters {
  trial?: number;
  rank?: number;
  level?: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
  grep?: string;
  since?: string;
}

/**
 * What a trial ran with. Filled by the master at the trial's first start (the model directory's digest, the
 * config, seed, hyperparameters, agents and devices) and completed by the harness (versions and backend).
 */
export interface ReproducibilityRecord {
  /** sha256 (hex) of the stored model directory archive (what `experiment download-model-def` writes out). */
  contextDigest: string | null;
  /** The experiment config as the trial ran it (YAML text of the stored, defaulted config). */
  configYaml: string;
  seed: number;
  hparams: HParams;
  /** Where the ranks ran: one entry per agent, with its device ids (rank order). */
  placement: Array<{ agentId: string; devices: number[] }>;
  /** Device descriptions (brand) by agent, as the agents reported them. */
  devices: Array<{ agentId: string; id: number; type: 'gpu' | 'cpu'; brand: string }>;
  /** From the harness (null until it reports). */
  harnessVersion: string | null;
  tfjsVersion: string | null;
  /** TensorFlow.js backend in use: `tensorflow` (tfjs-node[-gpu]), `wasm`, `cpu`. */
  backend: string | null;
  nodeVersion: string | null;
  /** The allocation the record was taken from, and when. */
  allocationId: string;
  recordedAt: string;
}

/** POST /trials/:id/reproducibility (the harness, rank 0, with its task token): what it runs with. */
export interface ReportReproducibilityBody {
  harnessVersion: string;
  tfjsVersion: string;
  backend: string;
  nodeVersion: string;
}

export interface ModelInfo {
  id: number;
  name: string;
  description: string;
  owner: string;
  labels: string[];
  createdAt: string;
  updatedAt: string;
  numVersions: number;
  latestVersion: number | null;
}

export interface ModelVersion {
  model: string;
  /** 1, 2, ... per model. */
  version: number;
  checkpointUuid: string;
  registeredBy: string;
  registeredAt: string;
  notes: string;
  /** The source: trial, experiment, and the trial's hyperparameters and metrics at registration. */
  trialId: number;
  experimentId: number;
  hparams: HParams;
  stepsCompleted: number;
  /** Validation metrics at the checkpoint's step (or the trial's latest), and training metrics likewise. */
  validationMetrics: Record<string, number> | null;
  trainingMetrics: Record<string, number> | null;
  /** The checkpoint's state now (a registered checkpoint is never garbage-collected). */
  checkpointState: 'COMPLETED' | 'DELETED';
}

/** GET /models/:name. */
export interface ModelDetail extends ModelInfo {
  versions: ModelVersion[];
}

/** POST /models. Names as project names. */
export interface CreateModelBody {
  name: string;
  description?: string;
  labels?: string[];
}

/** PATCH /models/:name. */
export interface PatchModelBody {
  description?: string;
  labels?: string[];
}

/** POST /models/:name/versions: registers a checkpoint as the next version (201, a ModelVersion). */
export interface RegisterModelVersionBody {
  checkpointUuid: string;
  notes?: string;
}

/** GET /trials/compare?ids=1,2,3 (2–10 ids, from any experiments). */
export interface TrialComparison {
  trials: Array<
    TrialSummary & {
      experimentName: string;
      /** The experiment's searcher metric and direction. */
      metric: string;
      smallerIsBetter: boolean;
    }
  >;
  /** Dotted hyperparameter names present in any trial, sorted. */
  hparamNames: string[];
  /** Of those, the ones whose values differ between the trials (or are missing from some). */
  differingHparams: string[];
  /** Validation metric names present in any trial's latest validation, sorted. */
  metricNames: string[];
}

/**
 * GET /runs: trials across experiments, one page (Page<RunSummary>). Query (all optional):
 * `project`, `experiment_id`, `state` (comma-separated trial states), `user`, `archived` (false|true|all;
 * default false: trials of archived experiments are left out), `label`, `hp` (comma-separated
 * `name:min:max` ranges over dotted hyperparameter names, either bound may be empty; a bare `name:value` matches a
 * categorical value exactly), `metric` (comma-separated `name:min:max` over the latest validation metrics),
 * `sort` (id | experimentId | state | startTime | endTime | bestValidation | trainedLength | `hp.NAME` |
 * `metric.NAME`; default id), `order` (asc|desc; default desc), `offset`, `limit` (1–1000; default 100).
 */
export interface RunSummary extends TrialSummary {
  experimentName: string;
  project: string;
  user: string;
  labels: string[];
  archived: boolean;
  metric: string;
  smallerIsBetter: boolean;
}

/** How long a unit of training takes, and the overhead of each allocation, as a forecast assumed them. */
/**
 * The time model a forecast charges on its simulated clock. Per unit of length: secondsPerUnit of pure training.
 * Per run of a trial (an allocation): gapSeconds (the master reacting to the event that asks for it: creating the
 * trial and its allocation), startupSeconds (placed to first training step: context, harness, model), and at the
 * end exitSeconds (last report to the slot being free: final flush, process exit). Per validation and per
 * checkpoint (every min_validation_period / min_checkpoint_period, and one of each at the end of every searcher
 * operation): validationSeconds and checkpointSeconds.
 */
export interface ForecastTiming {
  secondsPerUnit: number;
  startupSeconds: number;
  gapSeconds: number;
  exitSeconds: number;
  validationSeconds: number;
  checkpointSeconds: number;
  /** Batches per unit of the searcher's length, when known (from a profile): converts periods given in batches. */
  batchesPerUnit?: number;
  source: string;
}

/** One sample of a forecast's simulated run. */
export interface ForecastTimelinePoint {
  /** Seconds since submission. */
  t: number;
  instances: number;
  slots: number;
  busySlots: number;
  pendingGangs: number;
  /** Fraction of the search done, by units trained against the total the run trained. */
  progress: number;
}

/** POST /experiments/forecast: the experiment's predicted run on a pool. */
export interface Forecast {
  pool: string;
  poolKind: 'provisioned' | 'fixed';
  timing: ForecastTiming;
  wallClockSeconds: number;
  slotHours: number;
  busySlotHours: number;
  instanceHours: number;
  cost: number | null;
  hourlyCost: number | null;
  peakInstances: number;
  slotUtilization: number;
  trials: number;
  unitsTrained: number;
  finished: boolean;
  timeline: ForecastTimelinePoint[];
}

/** GET /provisioner/pools: a pool that grows and shrinks, with where its provisioner stands. */
export interface ProvisionerPoolStatus {
  pool: string;
  provider: string;
  instanceType: string;
  minInstances: number;
  maxInstances: number;
  slotsPerInstance: number;
  hourlyCost: number | null;
  lastPassAt: string | null;
  /** Why the provisioner last launched, terminated or held back. */
  lastReasons: string[];
  /** Whether the last list of the cloud's instances succeeded (a failed one changes nothing). */
  listOk: boolean;
  launchFailures: number;
}

export interface ProvisionedPoolInfo extends ProvisionerPoolStatus {
  /** Live instances by state (requested, launching, running, idle, terminating). */
  instancesByState: Record<string, number>;
  /** Live instances and the most recently terminated ones. */
  instances: Array<{
    id: string;
    state: string;
    cloudId: string | null;
    instanceType: string;
    slots: number;
    reason: string | null;
    createdAt: string;
    registeredAt: string | null;
    idleSince: string | null;
    terminatedAt: string | null;
  }>;
}
