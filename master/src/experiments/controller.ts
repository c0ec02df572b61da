// Experiment and trial lifecycle. Every change reads the rows it needs, calls the pure searcher, and writes
// the result in ONE transaction (searcher state included), so a master killed at any moment restarts into a
// consistent state and makes the same decisions. Effects on processes (start, preempt, kill) are done by the
// resource manager from the database state afterwards; they are idempotent.
import crypto from 'node:crypto';
import type { ExperimentConfig, ExperimentState, TrialState } from '@hone/protocol';
import { TERMINAL_EXPERIMENT_STATES, TERMINAL_TRIAL_STATES } from '@hone/protocol';
import type { Database, Queryable } from '../db';
import { HoneError, notFound } from '../errors';
import type { EventBus } from '../events';
import { initSearcher, searcherProgress, stepSearcher } from '../searcher';
import type { SearcherAction, SearcherEvent, SearcherState } from '../searcher/types';
import { getExperimentSummary, getTrialSummary } from './rows';
import { Mutex } from './mutex';

interface ExpRow {
  id: number;
  state: ExperimentState;
  config: ExperimentConfig;
  searcher_state: SearcherState;
  searcher_done: boolean;
}

export interface CreateExperimentInput {
  config: ExperimentConfig;
  configYaml: string;
  context: Buffer | null;
  activate: boolean;
  owner?: string;
}

export class ExperimentController {
  /** Serializes all lifecycle transactions in this master (one writer of experiment/trial state). */
  readonly lock = new Mutex();
  private readonly changedExperiments = new Set<number>();
  private readonly changedTrials = new Set<number>();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
  ) {}

  /** Runs fn in a locked transaction, then publishes what changed. */
  async run<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const out = await this.lock.run(() => this.db.transaction(fn));
    await this.flushChanges();
    return out;
  }

  private touchExperiment(id: number): void {
    this.changedExperiments.add(id);
  }
  private touchTrial(id: number): void {
    this.changedTrials.add(id);
  }

  private async flushChanges(): Promise<void> {
    const exps = [...this.changedExperiments];
    const trials = [...this.changedTrials];
    this.changedExperiments.clear();
    this.changedTrials.clear();
    for (const id of trials) {
      const t = await getTrialSummary(this.db, id);
      if (t) this.bus.publish({ type: 'trial', trial: t });
      this.bus.publish({ type: 'trialOp', trialId: id });
    }
    for (const id of exps) {
      const e = await getExperimentSummary(this.db, id);
      if (e) this.bus.publish({ type: 'experiment', experiment: e });
    }
    if (exps.length || trials.length) this.bus.publish({ type: 'cluster' });
  }

  async createExperiment(input: CreateExperimentInput): Promise<number> {
    const { config } = input;
    const seed = crypto.randomInt(0, 2 ** 31 - 1);
    return this.run(async (tx) => {
      const ins = await tx.query<{ id: number }>(
        `INSERT INTO experiments (name, state, config, config_yaml, resource_pool, priority, weight, max_slots, owner, labels, context_size)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
        [
          config.name,
          input.activate ? 'ACTIVE' : 'PAUSED',
          JSON.stringify(config),
          input.configYaml,
          config.resources.resource_pool,
          config.resources.priority,
          config.resources.weight,
          config.resources.max_slots ?? null,
          input.owner ?? 'admin',
          JSON.stringify(config.labels),
          input.context?.length ?? 0,
        ],
      );
      const id = ins.rows[0]!.id;
      if (input.context) await tx.query('INSERT INTO experiment_contexts (experiment_id, data) VALUES ($1, $2)', [id, input.context]);
      const init = initSearcher({ config: config.searcher, hyperparameters: config.hyperparameters, seed });
      const exp: ExpRow = { id, state: input.activate ? 'ACTIVE' : 'PAUSED', config, searcher_state: init.state, searcher_done: false };
      await this.applyActions(tx, exp, init.actions);
      this.touchExperiment(id);
      return id;
    });
  }

  private async loadExperiment(tx: Queryable, id: number, forUpdate = true): Promise<ExpRow> {
    const r = await tx.query<ExpRow>(
      `SELECT id, state, config, searcher_state, searcher_done FROM experiments WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const row = r.rows[0];
    if (!row) throw notFound('experiment', id);
    return row;
  }

  /** Feeds one event to the searcher and applies the resulting actions (and the events they cause). */
  private async feed(tx: Queryable, exp: ExpRow, event: SearcherEvent): Promise<void> {
    if (exp.searcher_done && event.kind !== 'trialExited') return;
    const step = stepSearcher(exp.searcher_state, event);
    exp.searcher_state = step.state;
    await this.applyActions(tx, exp, step.actions);
  }

  private async applyActions(tx: Queryable, exp: ExpRow, initial: SearcherAction[]): Promise<void> {
    const queue: SearcherAction[] = [...initial];
    while (queue.length) {
      const a = queue.shift()!;
      switch (a.kind) {
        case 'create': {
          if (exp.searcher_done || TERMINAL_EXPERIMENT_STATES.includes(exp.state) || exp.state === 'STOPPING_CANCELED') break;
          const r = await tx.query<{ id: number }>(
            `INSERT INTO trials (experiment_id, request_id, state, hparams, seed) VALUES ($1, $2, 'ACTIVE', $3, $4)
             ON CONFLICT (experiment_id, request_id) DO NOTHING RETURNING id`,
            [exp.id, a.requestId, JSON.stringify(a.hparams), a.seed],
          );
          if (r.rows[0]) this.touchTrial(r.rows[0].id);
          const step = stepSearcher(exp.searcher_state, { kind: 'trialCreated', requestId: a.requestId });
          exp.searcher_state = step.state;
          queue.push(...step.actions);
          break;
        }
        case 'train': {
          const r = await tx.query<{ id: number }>(
            `UPDATE trials SET target_length = GREATEST(target_length, $3) WHERE experiment_id = $1 AND request_id = $2 AND NOT closed RETURNING id`,
            [exp.id, a.requestId, a.length],
          );
          if (r.rows[0]) this.touchTrial(r.rows[0].id);
          break;
        }
        case 'stop': {
          const r = await tx.query<{ id: number; state: TrialState }>(
            `UPDATE trials SET closed = true WHERE experiment_id = $1 AND request_id = $2 RETURNING id, state`,
            [exp.id, a.requestId],
          );
          const t = r.rows[0];
          if (t) {
            this.touchTrial(t.id);
            // A trial with nothing running ends now; a running one ends when its harness exits.
            if (!TERMINAL_TRIAL_STATES.includes(t.state) && !(await this.hasLiveAllocation(tx, t.id))) {
              await this.endTrial(tx, t.id, 'COMPLETED');
              const step = stepSearcher(exp.searcher_state, { kind: 'trialExited', requestId: a.requestId, reason: 'completed' });
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
    const progress = searcherProgress(exp.searcher_state);
    await tx.query('UPDATE experiments SET searcher_state = $2, searcher_done = $3, progress = $4 WHERE id = $1', [
      exp.id,
      JSON.stringify(exp.searcher_state),
      exp.searcher_done,
      Number.isFinite(progress) ? progress : 0,
    ]);
    this.touchExperiment(exp.id);
    await this.maybeFinishExperiment(tx, exp);
  }

  private async hasLiveAllocation(tx: Queryable, trialId: number): Promise<boolean> {
    const r = await tx.query(`SELECT 1 FROM allocations WHERE trial_id = $1 AND state <> 'TERMINATED' LIMIT 1`, [trialId]);
    return r.rows.length > 0;
  }

  private async endTrial(tx: Queryable, trialId: number, state: TrialState): Promise<void> {
    await tx.query(`UPDATE trials SET state = $2, closed = true, end_time = now() WHERE id = $1 AND state NOT IN ('COMPLETED','CANCELED','ERROR')`, [
      trialId,
      state,
    ]);
    this.touchTrial(trialId);
  }

  /** Completes or cancels the experiment once nothing is left to run. */
  private async maybeFinishExperiment(tx: Queryable, exp: ExpRow): Promise<void> {
    if (TERMINAL_EXPERIMENT_STATES.includes(exp.state)) return;
    const live = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM trials WHERE experiment_id = $1 AND state NOT IN ('COMPLETED','CANCELED','ERROR')`,
      [exp.id],
    );
    if (exp.state === 'STOPPING_CANCELED') {
      const allocs = await tx.query(`SELECT 1 FROM allocations WHERE experiment_id = $1 AND state <> 'TERMINATED' LIMIT 1`, [exp.id]);
      if (allocs.rows.length) return;
      await tx.query(
        `UPDATE trials SET state = 'CANCELED', closed = true, end_time = now() WHERE experiment_id = $1 AND state NOT IN ('COMPLETED','CANCELED','ERROR')`,
        [exp.id],
      );
      await this.setExperimentState(tx, exp, 'CANCELED');
      return;
    }
    if (!exp.searcher_done || live.rows[0]!.n > 0) return;
    const counts = await tx.query<{ total: number; errored: number }>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE state = 'ERROR')::int AS errored FROM trials WHERE experiment_id = $1`,
      [exp.id],
    );
    const { total, errored } = counts.rows[0]!;
    await this.setExperimentState(tx, exp, total > 0 && errored === total ? 'ERROR' : 'COMPLETED');
  }

  private async setExperimentState(tx: Queryable, exp: ExpRow, state: ExperimentState): Promise<void> {
    exp.state = state;
    const terminal = TERMINAL_EXPERIMENT_STATES.includes(state);
    await tx.query(`UPDATE experiments SET state = $2, end_time = ${terminal ? 'now()' : 'NULL'}${state === 'COMPLETED' ? ', progress = 1' : ''} WHERE id = $1`, [
      exp.id,
      state,
    ]);
    this.touchExperiment(exp.id);
  }

  // ---- events from harnesses and agents ----

  /** The harness trained to `length` and validated: tell the searcher. Idempotent for a repeated report. */
  async completeOperation(trialId: number, length: number, metric: number): Promise<void> {
    await this.run(async (tx) => {
      const t = await tx.query<{ experiment_id: number; request_id: string; completed_length: number; target_length: number; state: TrialState }>(
        'SELECT experiment_id, request_id, completed_length, target_length, state FROM trials WHERE id = $1 FOR UPDATE',
        [trialId],
      );
      const trial = t.rows[0];
      if (!trial) throw notFound('trial', trialId);
      if (TERMINAL_TRIAL_STATES.includes(trial.state) || length <= trial.completed_length) return;
      if (length > trial.target_length) {
        throw new HoneError('INVALID_ARGUMENT', `length ${length} is beyond the trial's operation (${trial.target_length})`);
      }
      await tx.query('UPDATE trials SET completed_length = $2 WHERE id = $1', [trialId, length]);
      this.touchTrial(trialId);
      const exp = await this.loadExperiment(tx, trial.experiment_id);
      const smaller = exp.config.searcher.smaller_is_better;
      await tx.query(
        `UPDATE experiments SET best_metric = CASE WHEN best_metric IS NULL THEN $2 WHEN $3 THEN LEAST(best_metric, $2) ELSE GREATEST(best_metric, $2) END WHERE id = $1`,
        [exp.id, metric, smaller],
      );
      await this.feed(tx, exp, { kind: 'validationCompleted', requestId: trial.request_id, length, metric });
    });
  }

  /**
   * An allocation ended. `ok` exits (code 0, or preempted/paused) leave the trial to be rescheduled if it still
   * has work; failures count against max_restarts; `lost` allocations (agent gone) are retried without counting.
   */
  async allocationEnded(allocationId: string, outcome: { exitCode: number | null; reason: string; failed: boolean; countsAsRestart: boolean }): Promise<void> {
    await this.run(async (tx) => {
      const a = await tx.query<{ trial_id: number; experiment_id: number; state: string }>(
        'SELECT trial_id, experiment_id, state FROM allocations WHERE id = $1 FOR UPDATE',
        [allocationId],
      );
      const alloc = a.rows[0];
      if (!alloc || alloc.state === 'TERMINATED') return;
      await tx.query(`UPDATE allocations SET state = 'TERMINATED', ended_at = now(), exit_code = $2, exit_reason = $3 WHERE id = $1`, [
        allocationId,
        outcome.exitCode,
        outcome.reason,
      ]);
      const exp = await this.loadExperiment(tx, alloc.experiment_id);
      const t = await tx.query<{ request_id: string; state: TrialState; closed: boolean; restarts: number; target_length: number; completed_length: number }>(
        'SELECT request_id, state, closed, restarts, target_length, completed_length FROM trials WHERE id = $1 FOR UPDATE',
        [alloc.trial_id],
      );
      const trial = t.rows[0]!;
      this.touchTrial(alloc.trial_id);
      if (TERMINAL_TRIAL_STATES.includes(trial.state)) {
        await this.maybeFinishExperiment(tx, exp);
        return;
      }
      if (exp.state === 'STOPPING_CANCELED') {
        await this.endTrial(tx, alloc.trial_id, 'CANCELED');
        await this.maybeFinishExperiment(tx, exp);
        return;
      }
      if (outcome.failed && outcome.countsAsRestart) {
        const restarts = trial.restarts + 1;
        await tx.query('UPDATE trials SET restarts = $2 WHERE id = $1', [alloc.trial_id, restarts]);
        if (restarts > exp.config.max_restarts) {
          await this.endTrial(tx, alloc.trial_id, 'ERROR');
          await this.feed(tx, exp, { kind: 'trialExited', requestId: trial.request_id, reason: 'errored' });
          await this.maybeFinishExperiment(tx, exp);
          return;
        }
      }
      if (trial.closed) {
        await this.endTrial(tx, alloc.trial_id, 'COMPLETED');
        await this.feed(tx, exp, { kind: 'trialExited', requestId: trial.request_id, reason: 'completed' });
      }
      await this.maybeFinishExperiment(tx, exp);
    });
  }

  // ---- user actions ----

  async pause(id: number): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      if (exp.state === 'PAUSED') return;
      if (exp.state !== 'ACTIVE') throw new HoneError('CONFLICT', `experiment ${id} is ${exp.state} and cannot be paused`);
      await this.setExperimentState(tx, exp, 'PAUSED');
      // Running trials checkpoint and exit; pending requests are withdrawn.
      await tx.query(`UPDATE allocations SET preempt_requested = true WHERE experiment_id = $1 AND state IN ('ASSIGNED','RUNNING')`, [id]);
      await tx.query(
        `UPDATE allocations SET state = 'TERMINATED', ended_at = now(), exit_reason = 'paused' WHERE experiment_id = $1 AND state = 'PENDING'`,
        [id],
      );
    });
  }

  async activate(id: number): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      if (exp.state === 'ACTIVE') return;
      if (exp.state !== 'PAUSED') throw new HoneError('CONFLICT', `experiment ${id} is ${exp.state} and cannot be activated`);
      await this.setExperimentState(tx, exp, 'ACTIVE');
    });
  }

  async kill(id: number): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      if (TERMINAL_EXPERIMENT_STATES.includes(exp.state) || exp.state === 'STOPPING_CANCELED') return;
      await this.setExperimentState(tx, exp, 'STOPPING_CANCELED');
      await tx.query(`UPDATE trials SET closed = true WHERE experiment_id = $1`, [id]);
      await tx.query(`UPDATE allocations SET kill_requested = true WHERE experiment_id = $1 AND state IN ('ASSIGNED','RUNNING','TERMINATING')`, [id]);
      await tx.query(
        `UPDATE allocations SET state = 'TERMINATED', ended_at = now(), exit_reason = 'killed' WHERE experiment_id = $1 AND state = 'PENDING'`,
        [id],
      );
      await this.maybeFinishExperiment(tx, exp);
    });
  }

  /** Updates scheduling fields (priority, weight, max_slots); config is kept in sync for display. */
  async setResources(id: number, field: 'priority' | 'weight' | 'max_slots', value: number | null): Promise<void> {
    await this.run(async (tx) => {
      const exp = await this.loadExperiment(tx, id);
      const config = { ...exp.config, resources: { ...exp.config.resources } };
      if (field === 'max_slots') {
        if (value === null) delete config.resources.max_slots;
        else config.resources.max_slots = value;
      } else config.resources[field] = value as number;
      await tx.query(`UPDATE experiments SET ${field} = $2, config = $3 WHERE id = $1`, [id, value, JSON.stringify(config)]);
      this.touchExperiment(id);
    });
  }

  /** Re-evaluates experiments whose trials may all have ended (used after start-up). */
  async reconcile(): Promise<void> {
    const r = await this.db.query<{ id: number }>(`SELECT id FROM experiments WHERE state IN ('ACTIVE','PAUSED','STOPPING_CANCELED')`);
    for (const { id } of r.rows) {
      await this.run(async (tx) => {
        const exp = await this.loadExperiment(tx, id);
        await this.maybeFinishExperiment(tx, exp);
      });
    }
  }
}
