// `bayesian`: GP Bayesian optimisation over full-length trials (see propose.ts for the model).
//
// Lifecycle is that of `random`: create, train to the full length, stop once validated there; a new trial is
// created only when a running one exits, up to max_trials, at most max_concurrent_trials at once (0: no limit,
// which makes every trial an initial point, so set it). The first `initial_points` trials (default
// min(10, 2·dims+1)) come from a randomly rotated Halton sequence; later ones maximise log-EI of a GP fitted to
// every result so far, with running trials as kriging-believer fantasies. A trial that exits without a result
// (errored, canceled) is dropped from the data and its point is never proposed again; a non-finite metric counts
// as the worst value seen.
//
// The state keeps the observations, the generator and the last fitted GP hyperparameters (a warm start), so the
// model is recomputed from the observations on every decision and decisions survive save/restore exactly.
import { searcherMaxLength } from '@hone/protocol';
import type { HParams, Hyperparameters } from '@hone/protocol';
import type { SearcherAction, SearcherEvent, SearcherInit, SearcherStep } from './types';
import { cloneState, concurrencyLimit, requestId, toLoss, type BaseState } from './common';
import { buildSpace, decodePoint, encodeHParams, snapPoint, type Space } from './hparams';
import { haltonPoint, proposeNext, randomPoint, samePoint } from './propose';
import { nextFloat, nextSeed, seedRng, type RngState } from './rng';

export interface BayesTrial {
  hparams: HParams;
  /** Unit-cube encoding of hparams. */
  x: number[];
  status: 'active' | 'stopping' | 'done';
  /** Loss at the full length (null: non-finite metric); absent while running or when it failed. */
  loss?: number | null;
  exit?: 'completed' | 'errored' | 'canceled';
}

export interface BayesState extends BaseState {
  method: 'bayesian';
  hyperparameters: Hyperparameters;
  rng: RngState;
  total: number;
  created: number;
  maxConcurrent: number;
  initialPoints: number;
  /** Rotation of the Halton initial design. */
  shift: number[];
  /** Last fitted GP hyperparameters (warm start of the next fit). */
  theta?: number[];
  /** Observations θ was fitted on. */
  fitN?: number;
  trials: Record<string, BayesTrial>;
}

export function defaultInitialPoints(space: Space): number {
  return Math.min(10, 2 * space.dims.length + 1);
}

export function initBayes(init: SearcherInit): SearcherStep<BayesState> {
  const { config, hyperparameters, seed } = init;
  const space = buildSpace(hyperparameters);
  const rng = seedRng(seed);
  const state: BayesState = {
    method: 'bayesian',
    config,
    hyperparameters,
    rng,
    total: config.max_trials,
    created: 0,
    maxConcurrent: concurrencyLimit(config, config.max_trials),
    initialPoints: config.initial_points ?? defaultInitialPoints(space),
    shift: Array.from({ length: space.size }, () => nextFloat(rng)),
    trials: {},
    shutdown: false,
  };
  const actions: SearcherAction[] = [];
  fill(state, actions);
  return { state, actions };
}

export function stepBayes(prev: BayesState, event: SearcherEvent): SearcherStep<BayesState> {
  const state = cloneState(prev);
  const actions: SearcherAction[] = [];
  const t = state.trials[event.requestId];
  if (!t) return { state, actions };
  if (event.kind === 'validationCompleted') {
    if (t.status === 'active' && event.length >= searcherMaxLength(state.config)) {
      t.loss = toLoss(state.config, event.metric);
      t.status = 'stopping';
      actions.push({ kind: 'stop', requestId: event.requestId });
    }
  } else if (event.kind === 'trialExited' && t.status !== 'done') {
    t.status = 'done';
    t.exit = event.reason;
  }
  fill(state, actions);
  return { state, actions };
}

/** Observations for the model: finite losses, with non-finite ones imputed as the worst finite loss. */
export function observations(trials: BayesTrial[]): { X: number[][]; y: number[] } {
  const finite = trials.filter((t) => typeof t.loss === 'number');
  const worst = finite.reduce((m, t) => Math.max(m, t.loss as number), -Infinity);
  const X: number[][] = [];
  const y: number[] = [];
  for (const t of trials) {
    if (t.loss === undefined) continue;
    if (t.loss === null && !Number.isFinite(worst)) continue;
    X.push(t.x);
    y.push(t.loss === null ? worst : t.loss);
  }
  return { X, y };
}

function proposeBayes(state: BayesState, space: Space): { x: number[] } {
  const trials = Object.values(state.trials);
  const { X, y } = observations(trials);
  const pending = trials.filter((t) => t.loss === undefined && t.status !== 'done').map((t) => t.x);
  const avoid = trials.filter((t) => t.loss === undefined && t.status === 'done').map((t) => t.x);
  if (space.size === 0) return { x: [] };
  if (state.created < state.initialPoints || X.length < 2) {
    const x = snapPoint(space, haltonPoint(state.created, state.shift));
    const taken = [...X, ...pending, ...avoid];
    if (!taken.some((p) => samePoint(p, x))) return { x };
    for (let i = 0; i < 200; i++) {
      const r = randomPoint(space, state.rng);
      if (!taken.some((p) => samePoint(p, r))) return { x: r };
    }
    return { x };
  }
  const p = proposeNext({ space, X, y, pending, avoid, rng: state.rng, progress: state.created / Math.max(1, state.total), ...(state.theta ? { theta: state.theta, fitN: state.fitN ?? 0 } : {}) });
  state.theta = p.theta;
  state.fitN = p.fitN;
  return { x: p.x };
}

function fill(state: BayesState, actions: SearcherAction[]): void {
  if (state.shutdown) return;
  const space = buildSpace(state.hyperparameters);
  const full = searcherMaxLength(state.config);
  let running = Object.values(state.trials).filter((t) => t.status !== 'done').length;
  while (state.created < state.total && running < state.maxConcurrent) {
    const { x } = proposeBayes(state, space);
    const hparams = decodePoint(space, x);
    state.created++;
    const id = requestId(state.created);
    state.trials[id] = { hparams, x: encodeHParams(space, hparams), status: 'active' };
    actions.push({ kind: 'create', requestId: id, hparams, seed: nextSeed(state.rng) });
    actions.push({ kind: 'train', requestId: id, length: full });
    running++;
  }
  if (state.created >= state.total && running === 0) {
    state.shutdown = true;
    actions.push({ kind: 'shutdown' });
  }
}

export function progressBayes(state: BayesState, inFlight: Record<string, number> = {}): number {
  if (state.shutdown) return 1;
  const full = searcherMaxLength(state.config);
  let done = 0;
  for (const [id, t] of Object.entries(state.trials)) {
    if (t.status === 'done') done += 1;
    else if (full > 0) done += Math.min(1, (inFlight[id] ?? 0) / full);
  }
  return Math.min(1, done / Math.max(1, state.total));
}
