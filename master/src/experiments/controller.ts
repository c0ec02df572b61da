// Experiment and trial lifecycle. Every change reads the rows it needs, calls the pure searcher, and writes
// the result in ONE transaction (searcher state included), so a master killed at any moment restarts into a
// consistent state and makes the same decisions. Effects on processes (start, preempt, kill) are done by the
// resource manager from the database state afterwards; they are idempotent.
import crypto from 'node:crypto';
import type { ExperimentConfig, ExperimentState, TrialState } from '@hone/protocol';
import { DELETION_EXPERIMENT_STATES, TERMINAL_EXPERIMENT_STATES, TERMINAL_TRIAL_STATES } from '@hone/protocol';
import type { Database, Queryable } from '../db';
import * as allocationsDb from '../db/allocations';
import * as experimentsDb from '../db/experiments';
import type { ExperimentRow as ExpRow } from '../db/experiments';
import * as trialsDb from '../db/trials';
import { HoneError, notFound } from '../errors';
import type { EventBus } from '../events';
import type { ResourceManager } from '../rm/resourceManager';
import { initSearcher, searcherProgress, stepSearcher } from '../searcher';
import type { SearcherAction, SearcherEvent } from '../searcher/types';
import { recordAudit } from '../db/audit';
import { lastErrorLine } from '../db/logs';
import { describeOutcome, type AllocationOutcome } from '../rm/lifecycle';
import { Mutex } from './mutex';
import { experimentDeletionRequested, experimentStateChanged } from '../jobs/intents';
import { timeSearcherStep } from '../controlPlaneStats';

/** How often at most the summaries of changed trials and experiments are read back and published. */
const SUMMARY_MS = 50;
/** Ended, or being deleted: nothing runs, nothing changes but a deletion. */
const ENDED_STATES = [...TERMINAL_EXPERIMENT_STATES, ...DELETION_EXPERIMENT_STATES];

/** How the controller stops an experiment's allocations: the resource manager's seam. */
export type ReleaseAllocations = ResourceManager['releaseExperiment'];

export interface CreateExperimentInput {
  config: ExperimentConfig;
  configYaml: string;
  context: Buffer | null;
  activate: boolean;
  /** Who submits it: the experiment's owner. */
  owner: string;
  /** Project id (default project when absent), and where the experiment comes from (fork, continue, warm start). */
  projectId?: number;
  forkedFrom?: number | null;
  sourceTrialId?: number | null;
  sourceCheckpointUuid?: string | null;
}

/** Trials one transaction creates at most; a searcher's further actions wait for the next one (pending_actions). */
export const DEFAULT_CREATE_BATCH = 100;

export class ExperimentController {
  /** Serializes all lifecycle transactions in this master (one writer of experiment/trial state). */
  readonly lock = new Mutex();
  private readonly changedExperiments = new Set<number>();
  private readonly changedTrials = new Set<number>();
  /** Changed since the last summaries went out (flushChanges). */
  private readonly summaryExperiments = new Set<number>();
  private readonly summaryTrials = new Set<number>();
  private summaryTimer: NodeJS.Timeout | null = null;
  /** Experiments with searcher actions left for a later transaction, and whether a drain is scheduled. */
  private readonly pendingExperiments = new Set<number>();
  private drainScheduled = false;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly release: ReleaseAllocations,
    private readonly createBatch = DEFAULT_CREATE_BATCH,
  ) {}

  /** Runs fn in a locked transaction, then publishes what changed. */
  async run<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const out = await this.lock.run(() => this.db.transaction(fn));
    await this.flushChanges();
    this.scheduleDrain(0);
    return out;
  }

  /** Stops applying pending actions (the master is shutting down; what is left stays stored). */
  stop(): void {
    this.stopped = true;
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
  }

  /**
   * Applies pending searcher actions, one batch per experiment per transaction, the lock released in between so
   * API requests and harness reports interleave with a huge experiment's creation.
   */
  private scheduleDrain(delayMs: number): void {
    if (this.drainScheduled || this.stopped || !this.pendingExperiments.size) return;
    this.drainScheduled = true;
    const t = setTimeout(() => {
      this.drainScheduled = false;
      const ids = [...this.pendingExperiments];
      this.pendingExperiments.clear();
      void (async () => {
        for (const id of ids) {
          if (this.stopped) return;
          try {
            await this.run(async (tx) => {
              const exp = await experimentsDb.lockExperiment(tx, id);
              if (exp?.pending_actions?.length) await this.applyActions(tx, exp, []);
            });
          } catch {
            // Kept stored: tried again shortly, and at the next start-up (reconcile).
            this.pendingExperiments.add(id);
            this.scheduleDrain(1000);
          }
        }
      })();
    }, delayMs);
    t.unref();
  }

  private touchExperiment(id: number): void {
    this.changedExperiments.add(id);
  }
  private touchTrial(id: number): void {
    this.changedTrials.add(id);
  }

  /**
   * After a commit: waiting long-polls on a changed trial's operation wake at once; the summaries of what changed
   * (read back from the database, for streams and waiters) go out together at most every SUMMARY_MS, each trial
   * and experiment once however often it changed meanwhile (many short trials change hundreds of times a second).
   */
  private async flushChanges(): Promise<void> {
    for (const id of this.changedTrials) {
      this.bus.publish({ type: 'trialOp', trialId: id });
      this.summaryTrials.add(id);
    }
    for (const id of this.changedExperiments) this.summaryExperiments.add(id);
    this.changedExperiments.clear();
    this.changedTrials.clear();
    if (this.summaryTimer || (!this.summaryTrials.size && !this.summaryExperiments.size)) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = null;
      void this.publishSummaries().catch(() => undefined); // a database hiccup: the next change publishes again
    }, SUMMARY_MS);
  }

  private async publishSummaries(): Promise<void> {
    const exps = [...this.summaryExperiments];
    const trials = [...this.summaryTrials];
    this.summaryExperiments.clear();
    this.summaryTrials.clear();
    for (const t of await trialsDb.getTrialSummaries(this.db, trials)) this.bus.publish({ type: 'trial', trial: t });
    for (const id of exps) {
      const e = await experimentsDb.getExperimentSummary(this.db, id);
      if (e) this.bus.publish({ type: 'experiment', experiment: e });
    }
    if (exps.length || trials.length) this.bus.publish({ type: 'cluster' });
  }

  async createExperiment(input: CreateExperimentInput): Promise<number> {
    const { config } = input;
    const seed = config.reproducibility?.experiment_seed ?? crypto.randomInt(0, 2 ** 31 - 1);
    return this.run(async (tx) => {
      const id = await experimentsDb.insertExperiment(tx, {
        config,
        configYaml: input.configYaml,
        state: input.activate ? 'ACTIVE' : 'PAUSED',
        owner: input.owner,
        context: input.context,
        ...(input.projectId !== undefined ? { projectId: input.projectId } : {}),
        forkedFrom: input.forkedFrom ?? null,
        sourceTrialId: input.sourceTrialId ?? null,
        sourceCheckpointUuid: input.sourceCheckpointUuid ?? null,
      });
      const from = input.forkedFrom ? { forkedFrom: input.forkedFrom } : input.sourceTrialId ? { sourceTrialId: input.sourceTrialId } : {};
      await recordAudit(tx, { username: input.owner, action: 'create', experimentId: id, details: { name: config.name, ...from } });
      const init = timeSearcherStep(() => initSearcher({ config: config.searcher, hyperparameters: config.hyperparameters, seed }));
      const exp: ExpRow = { id, state: input.activate ? 'ACTIVE' : 'PAUSED', config, searcher_state: init.state, searcher_done: false, pending_actions: null };
      await this.applyActions(tx, exp, init.actions);
      this.touchExperiment(id);
      return id;
    });
  }

  private async loadExperiment(tx: Queryable, id: number): Promise<ExpRow> {
    const row = await experimentsDb.lockExperiment(tx, id);
    if (!row) throw notFound('experiment', id);
    return row;
  }

  /** Feeds one event to the searcher and applies the resulting actions (and the events they cause). */
  private async feed(tx: Queryable, exp: ExpRow, event: SearcherEvent): Promise<void> {
    if (exp.searcher_done && event.kind !== 'trialExited') return;
    const step = timeSearcherStep(() => stepSearcher(exp.searcher_state, event));
    exp.searcher_state = step.state;
    await this.applyActions(tx, exp, step.actions);
  }

  private async applyActions(tx: Queryable, exp: ExpRow, initial: SearcherAction[]): Promise<void> {
    // Actions left from an earlier batch go first, so the searcher sees its events in the order it asked.
    const queue: SearcherAction[] = [...(exp.pending_actions ?? []), ...initial];
    exp.pending_actions = null;
    let createdHere = 0;
    while (queue.length) {
      const a = queue.shift()!;
      switch (a.kind) {
        case 'create': {
          if (exp.searcher_done || ENDED_STATES.includes(exp.state) || exp.state === 'STOPPING_CANCELED') break;
          if (createdHere >= this.createBatch) {
            // This transaction has created its share: the rest (in order) waits for the next one.
            exp.pending_actions = [a, ...queue];
            queue.length = 0;
            break;
          }
          createdHere += 1;
          const created = await trialsDb.insertTrial(tx, exp.id, a.requestId, a.hparams, a.seed, exp.state === 'PAUSED' ? 'PAUSED' : 'ACTIVE');
          if (created !== null) this.touchTrial(created);
          const step = timeSearcherStep(() => stepSearcher(exp.searcher_state, { kind: 'trialCreated', requestId: a.requestId }));
          exp.searcher_state = step.state;
          queue.push(...step.actions);
          break;
        }
        case 'train': {
          const trialId = await trialsDb.raiseTargetLength(tx, exp.id, a.requestId, a.length);
          if (trialId !== null) this.touchTrial(trialId);
          break;
        }
        case 'stop': {
          const t = await trialsDb.closeTrial(tx, exp.id, a.requestId);
          if (t) {
            this.touchTrial(t.id);
            // A trial with nothing running ends now; a running one ends when its harness exits.
            if (!TERMINAL_TRIAL_STATES.includes(t.state) && !(await allocationsDb.trialHasLiveAllocation(tx, t.id))) {
              await this.endTrial(tx, t.id, 'COMPLETED');
              const step = timeSearcherStep(() => stepSearcher(exp.searcher_state, { kind: 'trialExited', requestId: a.requestId, reason: 'completed' }));
              exp.searcher_state = step.state;
              queue.push(...step.actions);
            }
          }
          break;
        }
        case 'shutdown':
          exp.searcher_done = true;
          break;
      }
    }
    const progress = searcherProgress(exp.searcher_state, await trialsDb.lengthsInFlight(tx, exp.id));
    await experimentsDb.saveSearcher(tx, exp.id, exp.searcher_state, exp.searcher_done, Number.isFinite(progress) ? progress : 0, exp.pending_actions ?? []);
    if (exp.pending_actions?.length) this.pendingExperiments.add(exp.id);
    this.touchExperiment(exp.id);
    await this.maybeFinishExperiment(tx, exp);
  }

  private async endTrial(tx: Queryable, trialId: number, state: TrialState): Promise<void> {
    await trialsDb.endTrial(tx, trialId, state);
    // A trial that completed after a failed run did not fail: its restart history keeps the record.
    if (state === 'COMPLETED') await trialsDb.setFailure(tx, trialId, null);
    this.touchTrial(trialId);
  }

  /** Completes or cancels the experiment once nothing is left to run. */
  private async maybeFinishExperiment(tx: Queryable, exp: ExpRow): Promise<void> {
    if (ENDED_STATES.includes(exp.state)) return;
    if (exp.state === 'STOPPING_CANCELED') {
      if (await allocationsDb.experimentHasLiveAllocation(tx, exp.id)) return;
      await trialsDb.endLiveTrials(tx, exp.id, 'CANCELED');
      await this.setExperimentState(tx, exp, 'CANCELED');
      return;
    }
    const { total, live, errored } = await trialsDb.countTrials(tx, exp.id);
    if (!exp.searcher_done || live > 0) return;
    await this.setExperimentState(tx, exp, total > 0 && errored === total ? 'ERROR' : 'COMPLETED');
  }

  private async setExperimentState(tx: Queryable, exp: ExpRow, state: ExperimentState): Promise<void> {
    exp.state = state;
    await experimentsDb.setExperimentState(tx, exp.id, state);
    // Webhook deliveries and, at the end, checkpoint GC: written with the state change, run by the job queue.
    await experimentStateChanged(tx, { id: exp.id, name: exp.config.name }, state);
    this.touchExperiment(exp.id);
  }

  // ---- events from harnesses and agents ----

  /** The harness trained to `length` and validated: tell the searcher. Idempotent for a repeated report. */
  async completeOperation(trialId: number, length: number, metric: number): Promise<void> {
    await this.run(async (tx) => {
      const trial = await trialsDb.lockTrial(tx, trialId);
      if (!trial) throw notFound('trial', trialId);
      if (TERMINAL_TRIAL_STATES.includes(trial.state) || length <= trial.completed_length) return;
      if (length > trial.target_length) {
        throw new HoneError('INVALID_ARGUMENT', `length ${length} is beyond the trial's operation (${trial.target_length})`);
      }
      await trialsDb.setCompletedLength(tx, trialId, length);
      this.touchTrial(trialId);
      const exp = await this.loadExperiment(tx, trial.experiment_id);
      await experimentsDb.recordBestMetric(tx, exp.id, metric);
      await this.feed(tx, exp, { kind: 'validationCompleted', requestId: trial.request_id, length, metric });
    });
  }

  /**
   * The harness reports how far its operation has trained (searcher units, at validations and checkpoints):
   * the trial's length and the experiment's progress move before the operation completes.
   */
  async reportProgress(trialId: number, length: number): Promise<void> {
    await this.run(async (tx) => {
      const trial = await trialsDb.lockTrial(tx, trialId);
      if (!trial) throw notFound('trial', trialId);
      if (!(await trialsDb.setTrainedLength(tx, trialId, length))) return;
      this.touchTrial(trialId);
      const exp = await this.loadExperiment(tx, trial.experiment_id);
      if (TERMINAL_EXPERIMENT_STATES.includes(exp.state)) return;
      await experimentsDb.setProgress(tx, exp.id, searcherProgress(exp.searcher_state, await trialsDb.lengthsInFlight(tx, exp.id)));
      this.touchExperiment(exp.id);
    });
  }

  /**
   * An allocation ended. `ok` exits (code 0, or preempted/paused) leave the trial to be rescheduled if it still
   * has work; failures count against max_restarts; `lost` allocations (agent gone) are retried without counting.
   */
  async allocationEnded(allocationId: string, outcome: AllocationOutcome): Promise<void> {
    await this.run(async (tx) => {
      const alloc = await allocationsDb.lockAllocation(tx, allocationId);
      if (!alloc || alloc.state === 'TERMINATED') return;
      // The failing rank's own last words, when it logged any (its log batches arrive before its exit).
      const lastError = outcome.failed && outcome.failedRank !== undefined ? await lastErrorLine(tx, allocationId, outcome.failedRank) : null;
      const reason = describeOutcome(outcome);
      await allocationsDb.terminateAllocation(tx, allocationId, { exitCode: outcome.exitCode, reason, failed: outcome.failed, lastError });
      const exp = await this.loadExperiment(tx, alloc.experimentId);
      const trial = (await trialsDb.lockTrial(tx, alloc.trialId))!;
      this.touchTrial(alloc.trialId);
      if (outcome.failed) await trialsDb.setFailure(tx, alloc.trialId, lastError ? `${reason}: ${lastError}` : reason);
      if (TERMINAL_TRIAL_STATES.includes(trial.state)) {
        await this.maybeFinishExperiment(tx, exp);
        return;
      }
      if (exp.state === 'STOPPING_CANCELED') {
        await this.endTrial(tx, alloc.trialId, 'CANCELED');
        await this.maybeFinishExperiment(tx, exp);
        return;
      }
      if (outcome.failed && outcome.countsAsRestart) {
        // max_restarts: N allows N restarts; the failure after the Nth ends the trial (and is not a restart).
        if (trial.restarts >= exp.config.max_restarts) {
          await this.endTrial(tx, alloc.trialId, 'ERROR');
          await this.feed(tx, exp, { kind: 'trialExited', requestId: trial.request_id, reason: 'errored' });
          await this.maybeFinishExperiment(tx, exp);
          return;
        }
        await trialsDb.setRestarts(tx, alloc.trialId, trial.restarts + 1);
      }
      if (trial.closed) {
        await this.endTrial(tx, alloc.trialId, 'COMPLETED');
        await this.feed(tx, exp, { kind: 'trialExited', requestId: trial.request_id, reason: 'completed' });
      }
      await this.maybeFinishExperiment(tx, exp);
    });
  }

  // ---- user actions ----

  async pause(id: number, actor: string): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      if (exp.state === 'PAUSED') return;
      await recordAudit(tx, { username: actor, action: 'pause', experimentId: id });
      if (exp.state !== 'ACTIVE') throw new HoneError('CONFLICT', `experiment ${id} is ${exp.state} and cannot be paused`);
      await this.setExperimentState(tx, exp, 'PAUSED');
      // Running trials checkpoint and exit; pending requests are withdrawn; trials show PAUSED meanwhile.
      await this.release(tx, id, 'preempt', 'paused');
      for (const t of await trialsDb.setLiveTrialStates(tx, id, 'ACTIVE', 'PAUSED')) this.touchTrial(t);
    });
  }

  async activate(id: number, actor: string): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      if (exp.state === 'ACTIVE') return;
      if (exp.state !== 'PAUSED') throw new HoneError('CONFLICT', `experiment ${id} is ${exp.state} and cannot be activated`);
      await this.setExperimentState(tx, exp, 'ACTIVE');
      await recordAudit(tx, { username: actor, action: 'activate', experimentId: id });
      for (const t of await trialsDb.setLiveTrialStates(tx, id, 'PAUSED', 'ACTIVE')) this.touchTrial(t);
    });
  }

  async kill(id: number, actor: string): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      if (ENDED_STATES.includes(exp.state) || exp.state === 'STOPPING_CANCELED') return;
      await recordAudit(tx, { username: actor, action: 'kill', experimentId: id });
      await this.setExperimentState(tx, exp, 'STOPPING_CANCELED');
      await trialsDb.closeAllTrials(tx, id);
      await this.release(tx, id, 'kill', 'killed');
      await this.maybeFinishExperiment(tx, exp);
    });
  }

  /**
   * Asks for the deletion of an ended experiment (or one whose deletion failed: a retry). It turns DELETING and a
   * job deletes its checkpoint files, then its rows; asking again while it is DELETING changes nothing (but
   * writes the job again should it have been lost).
   */
  async requestDeletion(id: number, actor: string): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      // Already on its way: its job is pending (writing it again is a no-op), or, if it was lost, written anew.
      if (exp.state === 'DELETING') return experimentDeletionRequested(tx, id);
      if (!TERMINAL_EXPERIMENT_STATES.includes(exp.state) && exp.state !== 'DELETE_FAILED') {
        throw new HoneError('CONFLICT', `experiment ${id} is ${exp.state}; only an ended experiment (COMPLETED, CANCELED or ERROR) can be deleted: kill it first`);
      }
      if (await allocationsDb.experimentHasLiveAllocation(tx, id)) throw new HoneError('CONFLICT', `experiment ${id} still has a running allocation; try again when it has exited`);
      // The experiment's own audit entries go with it; this one is kept apart from it.
      await recordAudit(tx, { username: actor, action: 'delete', experimentId: null, details: { experiment: id, name: exp.config.name } });
      exp.state = 'DELETING';
      await experimentsDb.setDeletionState(tx, id, 'DELETING', null);
      await experimentDeletionRequested(tx, id);
      this.touchExperiment(id);
    });
  }

  /**
   * Kills one trial: its allocations are killed (pending ones withdrawn), it ends CANCELED at once, and the
   * searcher is told it exited, so the experiment goes on with its other trials (or completes without it).
   */
  async killTrial(trialId: number, actor: string): Promise<void> {
    await this.run(async (tx) => {
      const trial = await trialsDb.lockTrial(tx, trialId);
      if (!trial) throw notFound('trial', trialId);
      if (TERMINAL_TRIAL_STATES.includes(trial.state)) throw new HoneError('CONFLICT', `trial ${trialId} has already ended (${trial.state})`);
      const exp = await this.loadExperiment(tx, trial.experiment_id);
      await recordAudit(tx, { username: actor, action: 'kill trial', experimentId: exp.id, details: { trialId } });
      await trialsDb.closeTrialById(tx, trialId);
      await allocationsDb.killTrialAllocations(tx, trialId, 'killed');
      await this.endTrial(tx, trialId, 'CANCELED');
      await this.feed(tx, exp, { kind: 'trialExited', requestId: trial.request_id, reason: 'canceled' });
      await this.maybeFinishExperiment(tx, exp);
    });
  }

  /** Updates scheduling fields (priority, weight, max_slots); config is kept in sync for display. */
  async setResources(id: number, field: 'priority' | 'weight' | 'max_slots', value: number | null, actor: string): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      await recordAudit(tx, { username: actor, action: `set ${field}`, experimentId: id, details: { from: exp.config.resources[field] ?? null, to: value } });
      const config = { ...exp.config, resources: { ...exp.config.resources } };
      if (field === 'max_slots') {
        if (value === null) delete config.resources.max_slots;
        else config.resources.max_slots = value;
      } else config.resources[field] = value as number;
      await experimentsDb.setSchedulingField(tx, id, field, value, config);
      this.touchExperiment(id);
    });
  }

  /** Re-evaluates experiments whose trials may all have ended (used after start-up). */
  async reconcile(): Promise<void> {
    // Batches of trials a previous master had not created yet.
    for (const id of await experimentsDb.experimentsWithPendingActions(this.db)) this.pendingExperiments.add(id);
    for (const id of await experimentsDb.unfinishedExperimentIds(this.db)) {
      await this.run(async (tx) => {
        const exp = await this.loadExperiment(tx, id);
        await this.maybeFinishExperiment(tx, exp);
      });
    }
    this.scheduleDrain(0);
  }
}
