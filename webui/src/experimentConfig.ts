// What the UI reads from an experiment's config: the unit trial lengths are counted in, how many trials the
// searcher plans, and which hyperparameters are sampled on a log scale. Types only from the protocol: a value
// import of its config module would bundle the YAML parser and TypeBox.
import type { ExperimentConfig, HyperparameterSpec, Hyperparameters } from '@hone/protocol';
import { formatValue } from '@hone/protocol/format';

type LeafSpec = Exclude<HyperparameterSpec, { type: 'nested' }>;

/** Leaf specs by dotted name (`optimizer.lr`), as trial hyperparameters are flattened. */
function leafSpecs(h: Hyperparameters, prefix = ''): Array<[string, LeafSpec]> {
  return Object.entries(h).flatMap(([k, spec]): Array<[string, LeafSpec]> => {
    const name = prefix ? `${prefix}.${k}` : k;
    return spec.type === 'nested' ? leafSpecs(spec.vals, name) : [[name, spec]];
  });
}

/** The unit of `targetLength` / `trainedLength`: max_length's unit, or max_time's metric; '' when unknown. */
export function lengthUnit(config: ExperimentConfig | undefined): string {
  const s = config?.searcher;
  return s?.max_length?.unit ?? s?.time_metric ?? '';
}

/** How far a trial has trained: `34000 / 40000 batches`. */
export function lengthText(trained: number, target: number, unit: string): string {
  return `${formatValue(trained)} / ${formatValue(target)}${unit ? ` ${unit}` : ''}`;
}

/**
 * How many values a grid search takes on one axis, as gridValues in master/src/searcher/hparams.ts builds them:
 * an int axis without `count` takes every integer, up to 100 of them (evenly spaced points over more than
 * `count` integers are more than one apart, so rounding never merges two).
 */
function gridAxisSize(spec: LeafSpec): number {
  switch (spec.type) {
    case 'const':
      return 1;
    case 'categorical':
      return spec.vals.length;
    case 'double':
    case 'log':
      return Math.max(1, spec.count ?? 1);
    case 'int': {
      const n = spec.maxval - spec.minval + 1;
      return Math.max(1, Math.min(n, spec.count ?? 100));
    }
  }
}

/** Trials the searcher will create in all: 1 for single, the grid's size for grid (max_trials does not cut it), else max_trials. */
export function plannedTrials(config: ExperimentConfig | undefined): number | null {
  const s = config?.searcher;
  if (!s) return null;
  if (s.name === 'single') return 1;
  if (s.name === 'grid') return leafSpecs(config.hyperparameters ?? {}).reduce((n, [, spec]) => n * gridAxisSize(spec), 1);
  return s.max_trials ?? null;
}

/** Hyperparameters sampled log-uniformly (`type: log`), by dotted name: their plots use log axes. */
export function logScaleHparams(config: ExperimentConfig | undefined): ReadonlySet<string> {
  return new Set(leafSpecs(config?.hyperparameters ?? {}).filter(([, spec]) => spec.type === 'log').map(([k]) => k));
}
