// Realistic rows for the repository tests: configs go through the real parser, rows through the repositories.
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { parseExperimentConfig, type ExperimentConfig, type ExperimentState, type HParams, type MetricPoint } from '@hone/protocol';
import type { Queryable } from '../../master/src/db/database';
import { insertExperiment } from '../../master/src/db/experiments';
import { insertTrial, raiseTargetLength } from '../../master/src/db/trials';
import { insertPendingAllocation } from '../../master/src/db/allocations';

/** The raw config a user would write; `over` replaces top-level fields. */
export function rawConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'mnist',
    entrypoint: 'model.js',
    searcher: { name: 'random', metric: 'loss', max_trials: 2, max_length: 10 },
    hyperparameters: { lr: 0.1 },
    ...over,
  };
}

export function experimentConfig(over: Record<string, unknown> = {}): ExperimentConfig {
  return parseExperimentConfig(rawConfig(over));
}

export interface ExperimentOptions {
  config?: Record<string, unknown>;
  state?: ExperimentState;
  owner?: string;
  context?: Buffer | null;
}

export async function addExperiment(q: Queryable, o: ExperimentOptions = {}): Promise<number> {
  const raw = rawConfig(o.config);
  return insertExperiment(q, {
    config: parseExperimentConfig(raw),
    configYaml: stringify(raw),
    state: o.state ?? 'ACTIVE',
    owner: o.owner ?? 'admin',
    context: o.context ?? null,
  });
}

/** A searcher metric direction for experiments built with `addExperiment({ config: searcher(...) })`. */
export function searcher(metric: string, smallerIsBetter: boolean): Record<string, unknown> {
  return { searcher: { name: 'random', metric, smaller_is_better: smallerIsBetter, max_trials: 4, max_length: 100 } };
}

export interface TrialOptions {
  requestId?: string;
  hparams?: HParams;
  seed?: number;
  /** Length the searcher asked for (0: no work yet). */
  target?: number;
}

export async function addTrial(q: Queryable, experimentId: number, o: TrialOptions = {}): Promise<number> {
  const requestId = o.requestId ?? randomUUID();
  const id = await insertTrial(q, experimentId, requestId, o.hparams ?? { lr: 0.1 }, o.seed ?? 7);
  if (id === null) throw new Error(`trial ${requestId} exists already`);
  if (o.target) await raiseTargetLength(q, experimentId, requestId, o.target);
  return id;
}

/** An experiment with one trial. */
export async function addExperimentWithTrial(q: Queryable, o: ExperimentOptions = {}): Promise<{ experimentId: number; trialId: number }> {
  const experimentId = await addExperiment(q, o);
  return { experimentId, trialId: await addTrial(q, experimentId) };
}

/** A pending allocation of a trial; returns its id (also its token's suffix). */
export async function addAllocation(q: Queryable, experimentId: number, trialId: number, slots = 1, pool = 'default'): Promise<string> {
  const id = randomUUID();
  await insertPendingAllocation(q, { id, trialId, experimentId, slots, pool, token: `token-${id}` });
  return id;
}

/** The searcher metric `insertMetrics` folds into a trial's best: the default config's loss, smaller is better. */
export const LOSS = { metric: 'loss', smallerIsBetter: true };

export const point = (stepsCompleted: number, metrics: Record<string, number>): MetricPoint => ({ stepsCompleted, metrics });
