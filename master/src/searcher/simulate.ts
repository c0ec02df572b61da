// Simulated cluster for searchers: the same pure searcher code that drives real trials, run against an objective
// function on a simulated clock.
import { searcherMaxLength } from '@hone/protocol';
import type { HParams, Hyperparameters, SearcherConfig } from '@hone/protocol';
import { HoneError } from '@hone/protocol/errors';
import { DEFAULT_MAX_GRID_POINTS, gridRefusal } from '@hone/protocol/grid';
import { initSearcher, stepSearcher } from './index';
import { ashaRungs, type AshaState, type RungSummary } from './asha';
import type { SearcherAction, SearcherEvent, SearcherState } from './types';

export interface SimulateOptions {
  /** The searcher section of an experiment config (parsed, defaulted). */
  config: SearcherConfig;
  hyperparameters: Hyperparameters;
  /** The searcher metric a trial with these hyperparameters reports after training to `length`. */
  objective: (hparams: HParams, length: number) => number;
  /** Number of simulated workers (slots); each trains one trial at a time. */
  workers: number;
  /** Seed of the searcher (the simulation itself is deterministic). */
  seed: number;
  /** Simulated seconds per unit of length for a trial (default 1): lets cost depend on hyperparameters. */
  timePerUnit?: (hparams: HParams) => number;
  /** When true for (hparams, length), the trial errors instead of reporting at that length. */
  fails?: (hparams: HParams, length: number) => boolean;
  /** Safety cap on processed events (default 1e6). */
  maxEvents?: number;
  /** Largest grid simulated (default: the master's default limit). */
  maxGridPoints?: number;
  /** Stop the simulation at this simulated time (work still running then is abandoned). */
  maxTime?: number;
}

export interface SimulatedTrial {
  requestId: string;
  hparams: HParams;
  /** Lengths the trial validated at, in order, with the metric reported at each. */
  lengths: number[];
  metrics: number[];
  /** How it ended: stopped by the searcher, errored, or still running when the search ended. */
  state: 'completed' | 'errored' | 'running';
  createdAt: number;
  endedAt?: number;
}

export interface SimulationEvent {
  time: number;
  requestId: string;
  length: number;
  metric: number;
}

export interface SimulateResult {
  trials: SimulatedTrial[];
  /** Best metric reported at the full length (per smaller_is_better); null if no trial got there. */
  best: { requestId: string; hparams: HParams; metric: number } | null;
  /** Rung summary for the ASHA searchers. */
  rungs?: RungSummary[];
  /** Simulated time when the searcher shut down (or the last event). */
  wallClock: number;
  /** Number of validations reported (every rung of every trial). */
  evaluations: number;
  /** Every validation in order of simulated time. */
  history: SimulationEvent[];
  /** Total units of length trained over all trials (the compute spent). */
  unitsTrained: number;
  /** Whether the searcher emitted shutdown. */
  finished: boolean;
  /** The searcher's final state. */
  state: SearcherState;
}

interface Work {
  requestId: string;
  to: number;
}

/**
 * Runs a searcher to completion on a simulated cluster of `workers` slots.
 *
 * Event-driven: each `train` action becomes a work item (train from the trial's current length to the target,
 * taking (target - current) · timePerUnit(hparams) simulated seconds); items wait in FIFO order for a free worker.
 * When an item finishes, the searcher receives `validationCompleted` with objective(hparams, target) (or, if
 * `fails` says so, `trialExited` errored). `create` is answered at once with `trialCreated`, and `stop` with
 * `trialExited` completed. A trial waiting at an ASHA rung holds no worker. Ties in time resolve by start order,
 * so a simulation is a pure function of its options.
 *
 * Returns every trial (hparams, lengths reached, metrics, how it ended), the best full-length result, ASHA rungs,
 * the simulated wall-clock time, the number of evaluations and the time-ordered history of validations.
 */
export function simulate(opts: SimulateOptions): SimulateResult {
  const { config, objective, workers } = opts;
  const timePerUnit = opts.timePerUnit ?? (() => 1);
  const maxEvents = opts.maxEvents ?? 1_000_000;
  const trials = new Map<string, SimulatedTrial & { trained: number }>();
  const queue: Work[] = [];
  const running: Array<{ work: Work; end: number; seq: number }> = [];
  const history: SimulationEvent[] = [];
  let seq = 0;
  let now = 0;
  let unitsTrained = 0;
  let finished = false;
  let events = 0;
  // The same guard as the master's at submit: a huge grid is refused before anything is built.
  const tooBig = config.name === 'grid' ? gridRefusal(opts.hyperparameters, opts.maxGridPoints ?? DEFAULT_MAX_GRID_POINTS) : undefined;
  if (tooBig) throw new HoneError('INVALID_ARGUMENT', `hyperparameters: ${tooBig}`);
  const init = initSearcher({ config, hyperparameters: opts.hyperparameters, seed: opts.seed });
  let state = init.state;

  const feed = (e: SearcherEvent): void => {
    events++;
    const r = stepSearcher(state, e);
    state = r.state;
    apply(r.actions);
  };
  const apply = (actions: SearcherAction[]): void => {
    for (const a of actions) {
      switch (a.kind) {
        case 'create':
          trials.set(a.requestId, { requestId: a.requestId, hparams: a.hparams, lengths: [], metrics: [], state: 'running', createdAt: now, trained: 0 });
          feed({ kind: 'trialCreated', requestId: a.requestId });
          break;
        case 'train':
          queue.push({ requestId: a.requestId, to: a.length });
          break;
        case 'stop': {
          const t = trials.get(a.requestId);
          if (t && t.state === 'running') {
            t.state = 'completed';
            t.endedAt = now;
            // Drop queued work of a stopped trial.
            for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.requestId === a.requestId) queue.splice(i, 1);
            feed({ kind: 'trialExited', requestId: a.requestId, reason: 'completed' });
          }
          break;
        }
        case 'shutdown':
          finished = true;
          break;
      }
    }
  };
  const dispatch = (): void => {
    while (running.length < workers && queue.length) {
      const work = queue.shift()!;
      const t = trials.get(work.requestId);
      if (!t || t.state !== 'running') continue;
      const units = Math.max(0, work.to - t.trained);
      running.push({ work, end: now + units * timePerUnit(t.hparams), seq: seq++ });
    }
  };

  apply(init.actions);
  dispatch();
  while (running.length && events < maxEvents && !finished) {
    let k = 0;
    for (let i = 1; i < running.length; i++) {
      const a = running[i]!;
      const b = running[k]!;
      if (a.end < b.end || (a.end === b.end && a.seq < b.seq)) k = i;
    }
    if (opts.maxTime !== undefined && running[k]!.end > opts.maxTime) {
      now = opts.maxTime;
      break;
    }
    const { work, end } = running.splice(k, 1)[0]!;
    now = end;
    const t = trials.get(work.requestId)!;
    if (t.state === 'running') {
      unitsTrained += Math.max(0, work.to - t.trained);
      t.trained = Math.max(t.trained, work.to);
      if (opts.fails?.(t.hparams, work.to)) {
        t.state = 'errored';
        t.endedAt = now;
        for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.requestId === work.requestId) queue.splice(i, 1);
        feed({ kind: 'trialExited', requestId: work.requestId, reason: 'errored' });
      } else {
        const metric = objective(t.hparams, work.to);
        t.lengths.push(work.to);
        t.metrics.push(metric);
        history.push({ time: now, requestId: work.requestId, length: work.to, metric });
        feed({ kind: 'validationCompleted', requestId: work.requestId, length: work.to, metric });
      }
    }
    dispatch();
  }

  const full = searcherMaxLength(config);
  const sign = config.smaller_is_better ? 1 : -1;
  let best: SimulateResult['best'] = null;
  for (const h of history) {
    if (h.length < full || !Number.isFinite(h.metric)) continue;
    if (!best || sign * h.metric < sign * best.metric) best = { requestId: h.requestId, hparams: trials.get(h.requestId)!.hparams, metric: h.metric };
  }
  const out: SimulateResult = {
    trials: [...trials.values()].map(({ trained: _t, ...rest }) => rest),
    best,
    wallClock: now,
    evaluations: history.length,
    history,
    unitsTrained,
    finished,
    state,
  };
  if (state.method === 'async_halving' || state.method === 'adaptive_asha') out.rungs = ashaRungs(state as AshaState);
  return out;
}
