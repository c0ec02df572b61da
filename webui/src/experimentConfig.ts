// What the UI reads from an experiment's config: the unit trial lengths are counted in, how many trials the
// searcher plans, and which hyperparameters are sampled on a log scale. Values only from the protocol's
// dependency-free modules: its config module would bundle the YAML parser.
import type { ExperimentConfig } from '@hone/protocol';
import { gridPointCount } from '@hone/protocol/grid';
import { flattenSpecs } from '@hone/protocol/hyperparameters';
import { formatValue } from '@hone/protocol/format';

/** The unit of `targetLength` / `trainedLength`: max_length's unit, or max_time's metric; '' when unknown. */
export function lengthUnit(config: ExperimentConfig | undefined): string {
  const s = config?.searcher;
  return s?.max_length?.unit ?? s?.time_metric ?? '';
}

/** How far a trial has trained: `34000 / 40000 batches`. */
export function lengthText(trained: number, target: number, unit: string): string {
  return `${formatValue(trained)} / ${formatValue(target)}${unit ? ` ${unit}` : ''}`;
}

/** Trials the searcher will create in all: 1 for single, the grid's size for grid (max_trials does not cut it), else max_trials. */
export function plannedTrials(config: ExperimentConfig | undefined): number | null {
  const s = config?.searcher;
  if (!s) return null;
  if (s.name === 'single') return 1;
  if (s.name === 'grid') return gridPointCount(config.hyperparameters ?? {});
  return s.max_trials ?? null;
}

/** Hyperparameters sampled log-uniformly (`type: log`), by dotted name: their plots use log axes. */
export function logScaleHparams(config: ExperimentConfig | undefined): ReadonlySet<string> {
  return new Set(flattenSpecs(config?.hyperparameters ?? {}).filter(([, spec]) => spec.type === 'log').map(([k]) => k));
}
