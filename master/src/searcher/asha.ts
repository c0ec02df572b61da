// Asynchronous successive halving (ASHA, Li et al., MLSys 2020) and Determined's adaptive ASHA.
//
// A bracket has rungs at lengths max_length / divisor^(numRungs-1-k). Every trial starts at the bottom rung.
//
// Promotion mode (stop_once: false). A trial that validates at rung k waits there. Whenever the top
// floor(n/divisor) of the n results at rung k contain a trial not yet promoted, that trial is promoted: it gets a
// `train` to rung k+1's length. Free slots go to promotions first (highest rung first), and a new trial is created
// only when nothing can be promoted. Once every trial of the bracket is created and no trial still trains toward
// rung k or below, rung k can gain no more results, so its waiting trials that did not make the cut are stopped.
//
// Stop-once mode (stop_once: true, Determined's asha_stopping): a trial keeps training rung after rung as long as
// it is within the top max(1, floor(n/divisor)) of its rung when it arrives there, and is stopped as soon as it is
// not. Every stop frees a slot for a new trial.
//
// An errored or canceled trial counts as finished at its rung with the worst possible result; if it is later
// "promoted" it passes straight through every rung with the worst result, so it never stalls promotions.
// Concurrency is counted per bracket over trials that have work (training, or stopped but not yet exited).
import { ASHA_DEFAULTS, searcherMaxLength } from '@hone/protocol';
import type { HParams, Hyperparameters, SearcherConfig } from '@hone/protocol';
import type { SearcherAction, SearcherEvent, SearcherInit, SearcherStep } from './types';
import { cloneState, compareLoss, requestId, toLoss, type BaseState } from './common';
import { buildSpace, decodePoint, encodeHParams, sampleHParams } from './hparams';
import { proposeNext } from './propose';
import { nextFloat, nextSeed, seedRng, type RngState } from './rng';

export interface RungEntry {
  requestId: string;
  /** Smaller is better; null is the worst (errored, non-finite). */
  loss: number | null;
  promoted: boolean;
}

export interface Bracket {
  numRungs: number;
  /** Length a trial has trained to when it reports at each rung. */
  lengths: number[];
  maxTrials: number;
  maxConcurrent: number;
  created: number;
  /** Results per rung, best first (ties in arrival order; null losses last). */
  rungs: RungEntry[][];
}

export interface AshaTrial {
  bracket: number;
  /** The rung the trial trains toward (training) or waits at (waiting). */
  rung: number;
  status: 'training' | 'waiting' | 'stopping' | 'done';
  hparams: HParams;
  /** Unit-cube encoding, kept for the Bayesian sampler. */
  x?: number[];
  exit?: 'completed' | 'errored' | 'canceled';
}

/** The ASHA settings with their defaults filled in: what the searcher works from. */
export type AshaConfig = SearcherConfig & Required<Pick<SearcherConfig, 'num_rungs' | 'divisor' | 'max_rungs' | 'mode' | 'stop_once' | 'sampler'>>;

export function ashaConfig(c: SearcherConfig): AshaConfig {
  const max_rungs = c.max_rungs ?? ASHA_DEFAULTS.max_rungs;
  return {
    ...c,
    divisor: c.divisor ?? ASHA_DEFAULTS.divisor,
    max_rungs,
    num_rungs: c.num_rungs ?? max_rungs,
    mode: c.mode ?? ASHA_DEFAULTS.mode,
    stop_once: c.stop_once ?? ASHA_DEFAULTS.stop_once,
    sampler: c.sampler ?? ASHA_DEFAULTS.sampler,
  };
}

export interface AshaState extends BaseState {
  config: AshaConfig;
  method: 'async_halving' | 'adaptive_asha';
  hyperparameters: Hyperparameters;
  rng: RngState;
  created: number;
  brackets: Bracket[];
  trials: Record<string, AshaTrial>;
  /** State of the Bayesian sampler (sampler: bayesian), if any. */
  model?: unknown;
}

/** State of the BOHB-like sampler: the last GP fit, reused as a warm start. */
export interface AshaModelState {
  theta?: number[];
  fitN?: number;
  /** Rung length the last fit used. */
  fitLength?: number;
}

/** Share of bottom-rung trials sampled at random even with a model, so the search keeps exploring (BOHB uses 1/3). */
export const BOHB_RANDOM_FRACTION = 0.2;

/**
 * `sampler: bayesian` (BOHB-like): fit the GP on the results of the longest rung length that has at least
 * dims + 2 results (results of every bracket at that length pooled; errored trials imputed as the worst), treat
 * trials still training at the bottom as pending (kriging believer), and maximise log-EI. Until some rung has
 * enough results, and for a fixed share of trials, sample at random.
 */
function bayesianBottom(state: AshaState): { hparams: HParams; x?: number[] } {
  const space = buildSpace(state.hyperparameters);
  const random = (): { hparams: HParams; x: number[] } => {
    const hparams = sampleHParams(state.hyperparameters, state.rng);
    return { hparams, x: encodeHParams(space, hparams) };
  };
  if (space.size === 0 || nextFloat(state.rng) < BOHB_RANDOM_FRACTION) return random();
  const byLength = new Map<number, Array<{ x: number[]; loss: number | null }>>();
  for (const b of state.brackets) {
    b.rungs.forEach((rung, k) => {
      for (const e of rung) {
        const x = state.trials[e.requestId]?.x;
        if (!x) continue;
        const list = byLength.get(b.lengths[k]!) ?? [];
        list.push({ x, loss: e.loss });
        byLength.set(b.lengths[k]!, list);
      }
    });
  }
  const minObs = Math.max(4, space.dims.length + 2);
  const lengths = [...byLength.keys()].filter((l) => byLength.get(l)!.filter((o) => o.loss !== null).length >= minObs).sort((a, b) => b - a);
  if (!lengths.length) return random();
  const length = lengths[0]!;
  const obs = byLength.get(length)!;
  const worst = Math.max(...obs.flatMap((o) => (o.loss === null ? [] : [o.loss])));
  const X = obs.map((o) => o.x);
  const y = obs.map((o) => (o.loss === null ? worst : o.loss));
  const trials = Object.values(state.trials);
  const pending = trials.filter((t) => t.x && t.status === 'training' && t.rung === 0).map((t) => t.x!);
  const avoid = trials.filter((t) => t.x && t.exit === 'errored').map((t) => t.x!);
  const model = (state.model ?? {}) as AshaModelState;
  const warm = model.theta && model.fitLength === length ? { theta: model.theta, fitN: model.fitN ?? 0 } : {};
  const p = proposeNext({ space, X, y, pending, avoid, rng: state.rng, ...warm });
  state.model = { theta: p.theta, fitN: p.fitN, fitLength: length } satisfies AshaModelState;
  const hparams = decodePoint(space, p.x);
  return { hparams, x: encodeHParams(space, hparams) };
}

const EPS = 1e-9;
const floorLog = (x: number, base: number): number => Math.floor(Math.log(x) / Math.log(base) + EPS);

export function rungLengths(numRungs: number, divisor: number, maxLength: number): number[] {
  return Array.from({ length: numRungs }, (_, k) => Math.max(1, Math.floor(maxLength / Math.pow(divisor, numRungs - 1 - k) + EPS)));
}

/** Trials per bracket: equal total budget per bracket (Determined's getBracketMaxTrials). */
export function bracketMaxTrials(maxTrials: number, divisor: number, brackets: number[]): number[] {
  const w = brackets.map((r) => Math.pow(divisor, r - 1) / r);
  const total = w.reduce((a, b) => a + b, 0);
  const out = w.map((x) => Math.max(1, Math.floor((x / total) * maxTrials)));
  const allocated = out.reduce((a, b) => a + b, 0);
  out[0]! += Math.max(0, maxTrials - allocated);
  return out;
}

/** Concurrency per bracket: split evenly (remainder to the most aggressive), or a default (Determined's rule). */
export function bracketMaxConcurrent(maxConcurrent: number, divisor: number, maxTrials: number[]): number[] {
  const n = maxTrials.length;
  if (maxConcurrent === 0) return maxTrials.map(() => Math.max(maxTrials[n - 1]!, Math.floor(divisor)));
  const m = Math.max(maxConcurrent, n);
  const out = maxTrials.map(() => Math.floor(m / n));
  for (let i = 0; i < m % n; i++) out[i]!++;
  return out;
}

/** Number of rungs of each adaptive bracket, most aggressive first. */
export function adaptiveBrackets(settings: SearcherConfig): number[] {
  const config = ashaConfig(settings);
  let brackets = config.bracket_rungs ? [...config.bracket_rungs] : [];
  if (brackets.length === 0) {
    const maxRungs = Math.max(
      1,
      Math.min(config.max_rungs, floorLog(searcherMaxLength(config), config.divisor) + 1, floorLog(config.max_trials, config.divisor) + 1),
    );
    if (config.mode === 'aggressive') brackets = [maxRungs];
    else if (config.mode === 'standard') for (let i = Math.floor((maxRungs - 1) / 2) + 1; i <= maxRungs; i++) brackets.push(i);
    else for (let i = 1; i <= maxRungs; i++) brackets.push(i);
  }
  return brackets.sort((a, b) => b - a);
}

function makeBracket(numRungs: number, config: AshaConfig, maxTrials: number, maxConcurrent: number): Bracket {
  return {
    numRungs,
    lengths: rungLengths(numRungs, config.divisor, searcherMaxLength(config)),
    maxTrials,
    maxConcurrent: Math.max(1, Math.min(maxConcurrent, maxTrials)),
    created: 0,
    rungs: Array.from({ length: numRungs }, () => []),
  };
}

export function initAsha(init: SearcherInit): SearcherStep<AshaState> {
  const { hyperparameters, seed } = init;
  const config = ashaConfig(init.config);
  let brackets: Bracket[];
  if (config.name === 'adaptive_asha') {
    const rungs = adaptiveBrackets(config);
    const trials = bracketMaxTrials(config.max_trials, config.divisor, rungs);
    const conc = bracketMaxConcurrent(config.max_concurrent_trials, config.divisor, trials);
    brackets = rungs.map((r, i) => makeBracket(r, config, trials[i]!, conc[i]!));
  } else {
    const r = config.num_rungs;
    const conc =
      config.max_concurrent_trials > 0 ? config.max_concurrent_trials : Math.max(1, Math.min(Math.floor(Math.pow(config.divisor, r - 1) + EPS), config.max_trials));
    brackets = [makeBracket(r, config, config.max_trials, conc)];
  }
  const state: AshaState = {
    method: config.name === 'adaptive_asha' ? 'adaptive_asha' : 'async_halving',
    config,
    hyperparameters,
    rng: seedRng(seed),
    created: 0,
    brackets,
    trials: {},
    shutdown: false,
  };
  const actions: SearcherAction[] = [];
  fill(state, actions);
  return { state, actions };
}

/** Inserts a result into its rung, keeping the rung sorted (after equal results); returns its rank. */
function insertResult(rung: RungEntry[], entry: RungEntry): number {
  let lo = 0;
  let hi = rung.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareLoss(rung[mid]!.loss, entry.loss) <= 0) lo = mid + 1;
    else hi = mid;
  }
  rung.splice(lo, 0, entry);
  return lo;
}

/**
 * Copies the parts of the state a step mutates; hyperparameters, encodings and config are never mutated after
 * creation, so they are shared (a step costs O(trials) small copies rather than a deep copy of everything).
 */
function copyAsha(s: AshaState): AshaState {
  const trials: Record<string, AshaTrial> = {};
  for (const k of Object.keys(s.trials)) trials[k] = { ...s.trials[k]! };
  return {
    ...s,
    rng: [...s.rng] as RngState,
    brackets: s.brackets.map((b) => ({ ...b, lengths: [...b.lengths], rungs: b.rungs.map((r) => r.map((e) => ({ ...e }))) })),
    trials,
    ...(s.model !== undefined ? { model: cloneState(s.model) } : {}),
  };
}

export function stepAsha(prev: AshaState, event: SearcherEvent): SearcherStep<AshaState> {
  const state = copyAsha(prev);
  const actions: SearcherAction[] = [];
  const t = state.trials[event.requestId];
  if (!t) return { state, actions };
  const b = state.brackets[t.bracket]!;
  const top = b.numRungs - 1;
  switch (event.kind) {
    case 'trialCreated':
      break;
    case 'validationCompleted': {
      if (t.status !== 'training' || event.length < b.lengths[t.rung]!) break;
      const loss = toLoss(state.config, event.metric);
      if (state.config.stop_once) {
        let stopped = false;
        while (t.rung <= top && event.length >= b.lengths[t.rung]!) {
          const rung = b.rungs[t.rung]!;
          const entry: RungEntry = { requestId: event.requestId, loss, promoted: false };
          const rank = insertResult(rung, entry);
          const keep = Math.max(1, Math.floor(rung.length / state.config.divisor + EPS));
          if (t.rung === top || rank >= keep) {
            stopped = true;
            break;
          }
          entry.promoted = true;
          t.rung++;
        }
        if (stopped) {
          t.status = 'stopping';
          actions.push({ kind: 'stop', requestId: event.requestId });
        } else actions.push({ kind: 'train', requestId: event.requestId, length: b.lengths[t.rung]! });
      } else {
        insertResult(b.rungs[t.rung]!, { requestId: event.requestId, loss, promoted: false });
        if (t.rung === top) {
          t.status = 'stopping';
          actions.push({ kind: 'stop', requestId: event.requestId });
        } else t.status = 'waiting';
      }
      break;
    }
    case 'trialExited': {
      if (t.status === 'done') break;
      if (t.status === 'training') {
        // Finished at its rung with the worst result.
        insertResult(b.rungs[t.rung]!, { requestId: event.requestId, loss: null, promoted: false });
      }
      t.status = 'done';
      t.exit = event.reason;
      break;
    }
  }
  fill(state, actions);
  return { state, actions };
}

function createTrial(state: AshaState, bi: number, actions: SearcherAction[]): void {
  const b = state.brackets[bi]!;
  let proposal: { hparams: HParams; x?: number[] };
  if (state.config.sampler === 'bayesian') proposal = bayesianBottom(state);
  else proposal = { hparams: sampleHParams(state.hyperparameters, state.rng) };
  state.created++;
  b.created++;
  const id = requestId(state.created);
  state.trials[id] = { bracket: bi, rung: 0, status: 'training', hparams: proposal.hparams, ...(proposal.x ? { x: proposal.x } : {}) };
  actions.push({ kind: 'create', requestId: id, hparams: proposal.hparams, seed: nextSeed(state.rng) });
  actions.push({ kind: 'train', requestId: id, length: b.lengths[0]! });
}

/** Trials at rung k that belong to the top floor(n/divisor) and are not promoted yet, best first. */
function promotable(state: AshaState, b: Bracket, k: number): RungEntry[] {
  const rung = b.rungs[k]!;
  const q = Math.floor(rung.length / state.config.divisor + EPS);
  return rung.slice(0, q).filter((e) => !e.promoted);
}

function fill(state: AshaState, actions: SearcherAction[]): void {
  if (state.shutdown) return;
  const promo = !state.config.stop_once;
  state.brackets.forEach((b, bi) => {
    const inBracket = Object.entries(state.trials).filter(([, t]) => t.bracket === bi);
    if (promo) {
      // Dead trials that qualify pass through with the worst result, possibly cascading upward.
      let changed = true;
      while (changed) {
        changed = false;
        for (let k = 0; k < b.numRungs - 1; k++) {
          for (const e of promotable(state, b, k)) {
            const t = state.trials[e.requestId]!;
            if (t.status !== 'done') continue;
            markPromoted(b, k, e.requestId);
            insertResult(b.rungs[k + 1]!, { requestId: e.requestId, loss: null, promoted: false });
            t.rung = k + 1;
            changed = true;
          }
        }
      }
    }
    let active = inBracket.filter(([, t]) => t.status === 'training' || t.status === 'stopping').length;
    while (active < b.maxConcurrent) {
      let promoted = false;
      if (promo) {
        for (let k = b.numRungs - 2; k >= 0 && !promoted; k--) {
          const e = promotable(state, b, k).find((x) => state.trials[x.requestId]!.status === 'waiting');
          if (!e) continue;
          const t = state.trials[e.requestId]!;
          markPromoted(b, k, e.requestId);
          t.rung = k + 1;
          t.status = 'training';
          actions.push({ kind: 'train', requestId: e.requestId, length: b.lengths[k + 1]! });
          promoted = true;
        }
      }
      if (!promoted) {
        if (b.created >= b.maxTrials) break;
        createTrial(state, bi, actions);
      }
      active++;
    }
    if (promo && b.created >= b.maxTrials) {
      // Close out final rungs: nothing trains toward rung k or below, so its ranking can no longer change.
      const trials = Object.entries(state.trials).filter(([, t]) => t.bracket === bi);
      for (let k = 0; k < b.numRungs - 1; k++) {
        if (trials.some(([, t]) => t.status === 'training' && t.rung <= k)) break;
        const keep = new Set(promotable(state, b, k).map((e) => e.requestId));
        for (const e of b.rungs[k]!) {
          const t = state.trials[e.requestId]!;
          if (!e.promoted && !keep.has(e.requestId) && t.status === 'waiting' && t.rung === k) {
            t.status = 'stopping';
            actions.push({ kind: 'stop', requestId: e.requestId });
          }
        }
      }
    }
  });
  const allCreated = state.brackets.every((b) => b.created >= b.maxTrials);
  if (allCreated && Object.values(state.trials).every((t) => t.status === 'done')) {
    state.shutdown = true;
    actions.push({ kind: 'shutdown' });
  }
}

function markPromoted(b: Bracket, k: number, id: string): void {
  const e = b.rungs[k]!.find((x) => x.requestId === id);
  if (e) e.promoted = true;
}

export function progressAsha(state: AshaState, inFlight: Record<string, number> = {}): number {
  if (state.shutdown) return 1;
  // Work in progress (units trained beyond each running trial's last completed operation) counts as done.
  let extra = 0;
  for (const v of Object.values(inFlight)) extra += Math.max(0, v);
  // Work done over the work a full search needs: each bracket's rung k receives about maxTrials/divisor^k trials.
  let need = 0;
  let done = 0;
  for (const b of state.brackets) {
    for (let k = 0; k < b.numRungs; k++) {
      const step = b.lengths[k]! - (k > 0 ? b.lengths[k - 1]! : 0);
      need += Math.max(1, b.maxTrials / Math.pow(state.config.divisor, k)) * step;
      done += b.rungs[k]!.length * step;
    }
  }
  return need > 0 ? Math.min(0.99, (done + extra) / need) : 0;
}

/** A readable view of the rungs, for the CLI and the simulator. */
export interface RungSummary {
  bracket: number;
  rung: number;
  length: number;
  results: number;
  promoted: number;
  best: number | null;
}

export function ashaRungs(state: AshaState): RungSummary[] {
  const out: RungSummary[] = [];
  const sign = state.config.smaller_is_better ? 1 : -1;
  state.brackets.forEach((b, bi) =>
    b.rungs.forEach((rung, k) => {
      const best = rung[0]?.loss ?? null;
      out.push({
        bracket: bi,
        rung: k,
        length: b.lengths[k]!,
        results: rung.length,
        promoted: rung.filter((e) => e.promoted).length,
        best: best === null ? null : sign * best,
      });
    }),
  );
  return out;
}
