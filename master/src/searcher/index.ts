// Entry point of the searcher: a pure, deterministic state machine (see types.ts for the contract).
//   initSearcher({ config, hyperparameters, seed }) -> { state, actions }
//   stepSearcher(state, event)                      -> { state, actions }
//   searcherProgress(state)                         -> 0..1
// `state` is plain JSON (generator included) and is never mutated; save it after every step.
import type { SearcherEvent, SearcherInit, SearcherState, SearcherStep } from './types';
import { initFixed, progressFixed, stepFixed, type FixedState } from './fixed';
import { initAsha, progressAsha, stepAsha, type AshaState } from './asha';
import { initBayes, progressBayes, stepBayes, type BayesState } from './bayesian';

export type { SearcherAction, SearcherEvent, SearcherInit, SearcherState, SearcherStep } from './types';

interface Impl {
  init(init: SearcherInit): SearcherStep<any>;
  step(state: any, event: SearcherEvent): SearcherStep<any>;
  progress(state: any, inFlight: Record<string, number>): number;
}

const fixed: Impl = {
  init: initFixed,
  step: (s: FixedState, e) => stepFixed(s, e),
  progress: (s: FixedState, f) => progressFixed(s, f),
};

const asha: Impl = {
  init: initAsha,
  step: (s: AshaState, e) => stepAsha(s, e),
  progress: (s: AshaState, f) => progressAsha(s, f),
};

const bayes: Impl = {
  init: initBayes,
  step: (s: BayesState, e) => stepBayes(s, e),
  progress: (s: BayesState, f) => progressBayes(s, f),
};

const IMPLS: Record<string, Impl> = {
  single: fixed,
  random: fixed,
  grid: fixed,
  async_halving: asha,
  adaptive_asha: asha,
  bayesian: bayes,
};

function impl(method: string): Impl {
  const i = IMPLS[method];
  if (!i) throw new Error(`unknown searcher method "${method}"`);
  return i;
}

/** Starts a search: the initial state and the first actions (creates and trains). */
export function initSearcher(init: SearcherInit): SearcherStep {
  return impl(init.config.name).init(init);
}

/** Feeds one event; returns the next state and the actions to perform. Events for unknown trials are ignored. */
export function stepSearcher(state: SearcherState, event: SearcherEvent): SearcherStep {
  return impl(state.method).step(state, event);
}

/** Fraction of the search done, 0..1 (1 once shutdown has been emitted). */
/**
 * Fraction of the search done, 0..1. `inFlight` (request id → length trained beyond the trial's last completed
 * operation) counts work in progress, so a long single trial shows progress before its operation completes.
 */
export function searcherProgress(state: SearcherState, inFlight: Record<string, number> = {}): number {
  const p = impl(state.method).progress(state, inFlight);
  return Math.max(0, Math.min(1, Number.isFinite(p) ? p : 0));
}
