// The searcher contract. A searcher is a pure, deterministic state machine:
//   initSearcher(config, hyperparameters, seed) -> { state, actions }
//   stepSearcher(state, event)                 -> { state, actions }
// `state` is plain JSON (random generator included). The master saves it after every step in the same
// transaction as the event's effects, so a restarted master makes exactly the decisions it would have made.
import type { HParams, Hyperparameters, SearcherConfig } from '@hone/protocol';

/** Something that happened to a trial the searcher asked for. `requestId` is the searcher's own id. */
export type SearcherEvent =
  /** The master created the trial for a `create` action. */
  | { kind: 'trialCreated'; requestId: string }
  /** The trial finished training to `length` (the length of the `train` action it was given) and validated. */
  | { kind: 'validationCompleted'; requestId: string; length: number; metric: number }
  /** The trial ended: `completed` after a `stop` or its final length, `errored` after exhausting max_restarts,
   * `canceled` when the user killed it. An errored trial never reports again. */
  | { kind: 'trialExited'; requestId: string; reason: 'completed' | 'errored' | 'canceled' };

/** What the searcher wants done. A closed union keyed by `kind`. */
export type SearcherAction =
  /** Create a trial with these hyperparameters (nested objects for nested specs) and seed. */
  | { kind: 'create'; requestId: string; hparams: HParams; seed: number }
  /** Train the trial until its total length is `length` (in max_length's unit), then validate and report. */
  | { kind: 'train'; requestId: string; length: number }
  /** The trial will get no more work; close it (it keeps its checkpoints). */
  | { kind: 'stop'; requestId: string }
  /** The search is over; the experiment completes once running trials exit. */
  | { kind: 'shutdown'; failure?: boolean };

export interface SearcherStep<S = SearcherState> {
  state: S;
  actions: SearcherAction[];
}

/** Serializable searcher state; `method` selects the implementation. Everything else is method-specific JSON. */
export interface SearcherState {
  method: string;
  [key: string]: unknown;
}

export interface SearcherInit {
  config: SearcherConfig;
  hyperparameters: Hyperparameters;
  seed: number;
}
