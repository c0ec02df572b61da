// Searchers whose trials all train to the full length: `single`, `random` and `grid`.
// A trial is created, trained to searcherMaxLength, stopped once it validates there; a new trial is created only
// when a running one exits, so at most max_concurrent_trials (0: no limit) run at once. Errored and canceled
// trials count as done. `shutdown` is emitted once every trial has been created and has exited.
import { searcherMaxLength } from '@hone/protocol';
import type { HParams, Hyperparameters } from '@hone/protocol';
import type { SearcherEvent, SearcherInit, SearcherStep } from './types';
import { cloneState, concurrencyLimit, requestId, toLoss, type BaseState } from './common';
import { gridAxes, gridPoint, gridSize, sampleHParams } from './hparams';
import { nextSeed, seedRng, type RngState } from './rng';

export interface FixedTrial {
  hparams: HParams;
  /** active: created and training; stopping: stop sent, waiting for exit; done: exited. */
  status: 'active' | 'stopping' | 'done';
  /** Loss (smaller is better) at the full length; null when non-finite. */
  loss?: number | null;
  exit?: 'completed' | 'errored' | 'canceled';
}

export interface FixedState extends BaseState {
  method: 'single' | 'random' | 'grid';
  hyperparameters: Hyperparameters;
  rng: RngState;
  /** Trials this search will create in total. */
  total: number;
  created: number;
  maxConcurrent: number;
  trials: Record<string, FixedTrial>;
}

export function initFixed(init: SearcherInit): SearcherStep<FixedState> {
  const { config, hyperparameters, seed } = init;
  const method = config.name as FixedState['method'];
  let total: number;
  if (method === 'single') total = 1;
  // The grid is the full cartesian product; max_trials does not cut it short (as in Determined).
  else if (method === 'grid') total = gridSize(gridAxes(hyperparameters));
  else total = config.max_trials;
  const state: FixedState = {
    method,
    config,
    hyperparameters,
    rng: seedRng(seed),
    total,
    created: 0,
    maxConcurrent: concurrencyLimit(config, total),
    trials: {},
    shutdown: false,
  };
  return fill(state);
}

export function stepFixed(prev: FixedState, event: SearcherEvent): SearcherStep<FixedState> {
  // A created trial changes nothing (fill already ran when it was asked for): no copy of a state that may hold
  // thousands of trials, once per trial created.
  if (event.kind === 'trialCreated') return { state: prev, actions: [] };
  const state = cloneState(prev);
  const actions: SearcherStep['actions'] = [];
  const t = state.trials[event.requestId];
  if (!t) return { state, actions };
  const full = searcherMaxLength(state.config);
  switch (event.kind) {
    case 'validationCompleted':
      if (t.status === 'active' && event.length >= full) {
        t.loss = toLoss(state.config, event.metric);
        t.status = 'stopping';
        actions.push({ kind: 'stop', requestId: event.requestId });
      }
      break;
    case 'trialExited':
      if (t.status !== 'done') {
        t.status = 'done';
        t.exit = event.reason;
      }
      break;
  }
  const rest = fill(state);
  return { state: rest.state, actions: [...actions, ...rest.actions] };
}

function fill(state: FixedState): SearcherStep<FixedState> {
  const actions: SearcherStep['actions'] = [];
  if (state.shutdown) return { state, actions };
  const full = searcherMaxLength(state.config);
  let running = Object.values(state.trials).filter((t) => t.status !== 'done').length;
  const axes = state.method === 'grid' ? gridAxes(state.hyperparameters) : [];
  while (state.created < state.total && running < state.maxConcurrent) {
    const hparams = state.method === 'grid' ? gridPoint(axes, state.created) : sampleHParams(state.hyperparameters, state.rng);
    state.created++;
    const id = requestId(state.created);
    state.trials[id] = { hparams, status: 'active' };
    actions.push({ kind: 'create', requestId: id, hparams, seed: nextSeed(state.rng) });
    actions.push({ kind: 'train', requestId: id, length: full });
    running++;
  }
  if (state.created >= state.total && running === 0) {
    state.shutdown = true;
    actions.push({ kind: 'shutdown' });
  }
  return { state, actions };
}

export function progressFixed(state: FixedState, inFlight: Record<string, number> = {}): number {
  if (state.shutdown) return 1;
  const full = searcherMaxLength(state.config);
  let done = 0;
  for (const [id, t] of Object.entries(state.trials)) {
    if (t.status === 'done') done += 1;
    else if (t.status === 'stopping') done += 0.5;
    else if (full > 0) done += Math.min(1, (inFlight[id] ?? 0) / full);
  }
  return Math.min(1, done / Math.max(1, state.total));
}
