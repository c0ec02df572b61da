// `hone searcher simulate <config.yaml>`: runs the experiment's searcher against a benchmark objective on a
// simulated cluster (no master needed), and prints its trials, rungs and best result.
import type { Command } from 'commander';
import Table from 'cli-table3';
import type { HParams } from '@hone/protocol/hyperparameters';
import { formatSignificant } from '@hone/protocol/format';
import type { SimulateResult } from '@hone/master/searcher/simulate';
import { readConfigFile } from '../config-file';
import { wantsJson } from '../global-options';
import { printJson, tableStyle } from '../output';

const OBJECTIVE_NAMES = ['branin', 'hartmann6', 'quadratic', 'curve'];

interface SimulateCliOptions {
  workers?: string;
  seed?: string;
  objective?: string;
  json?: boolean;
}

const compact = (h: HParams): string => {
  const s = JSON.stringify(h, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v));
  return s.length > 70 ? `${s.slice(0, 67)}...` : s;
};

export function registerSearcherCommands(program: Command): void {
  const searcher = program.command('searcher').description('hyperparameter searchers');
  searcher
    .command('simulate <config>')
    .description(
      'simulate the searcher of an experiment config on a benchmark objective with N workers. The objective is evaluated at ' +
        "each trial's position in the search space (each hyperparameter mapped to [0,1], log ones in log space) " +
        '— branin, hartmann6 and quadratic give the same value at every length; curve has learning curves (the default for ASHA)',
    )
    .option('-w, --workers <n>', 'simulated workers (default: max_concurrent_trials, or 16 when that is 0)')
    .option('-s, --seed <n>', 'searcher seed', '0')
    .option('-o, --objective <name>', `objective: ${OBJECTIVE_NAMES.join(' | ')}`)
    .option('--json', 'print JSON instead of tables')
    .action(async (configPath: string, opts: SimulateCliOptions, cmd: Command) => {
      const { config } = await readConfigFile(configPath);
      // The master's searchers are loaded only here: no other command needs them.
      const [{ simulate }, { OBJECTIVES }, { buildSpace, decodePoint, encodeHParams }, { searcherMaxLength }] = await Promise.all([
        import('@hone/master/searcher/simulate'),
        import('@hone/master/searcher/objectives'),
        import('@hone/master/searcher/hparams'),
        import('@hone/protocol/config'),
      ]);
      const sc = config.searcher;
      const ashaFamily = sc.name === 'async_halving' || sc.name === 'adaptive_asha';
      const objectiveName = opts.objective ?? (ashaFamily ? 'curve' : 'branin');
      const objective = OBJECTIVES[objectiveName];
      if (!objective) cmd.error(`unknown objective "${objectiveName}" (expected one of ${OBJECTIVE_NAMES.join(', ')})`);
      const workers = opts.workers !== undefined ? Number(opts.workers) : sc.max_concurrent_trials > 0 ? sc.max_concurrent_trials : 16;
      const seed = Number(opts.seed ?? 0);
      if (!Number.isInteger(workers) || workers < 1) cmd.error(`--workers must be a positive integer, got ${opts.workers}`);
      if (!Number.isFinite(seed)) cmd.error(`--seed must be a number, got ${opts.seed}`);
      const space = buildSpace(config.hyperparameters);
      const objSpace = buildSpace(objective!.hyperparameters);
      const maxLength = searcherMaxLength(sc);
      const sign = sc.smaller_is_better ? 1 : -1;
      const result = simulate({
        config: sc,
        hyperparameters: config.hyperparameters,
        workers,
        seed,
        objective: (h, length) => {
          const x = encodeHParams(space, h);
          const z = Array.from({ length: objSpace.size }, (_, i) => x[i] ?? 0.5);
          return sign * objective!.fn(decodePoint(objSpace, z), length, maxLength);
        },
      });
      if (wantsJson(program, opts)) {
        const { state: _state, history: _history, ...rest } = result;
        printJson({ objective: objectiveName, workers, seed, ...rest });
        return;
      }
      printResult(result, objectiveName, workers, seed, sc.name, sc.metric);
    });
}

function printResult(r: SimulateResult, objective: string, workers: number, seed: number, method: string, metric: string): void {
  const trials = new Table({ style: tableStyle(), head: ['trial', 'hyperparameters', 'lengths reached', metric, 'state'] });
  for (const t of r.trials) {
    trials.push([t.requestId, compact(t.hparams), t.lengths.join(' → ') || '-', formatSignificant(t.metrics.at(-1), '-'), t.state]);
  }
  process.stdout.write(`${method} on ${objective}, ${workers} workers, seed ${seed}\n`);
  process.stdout.write(trials.toString() + '\n');
  if (r.rungs) {
    const rungs = new Table({ style: tableStyle(), head: ['bracket', 'rung', 'length', 'results', 'promoted', `best ${metric}`] });
    for (const g of r.rungs) rungs.push([g.bracket, g.rung, g.length, g.results, g.promoted, formatSignificant(g.best, '-')]);
    process.stdout.write(rungs.toString() + '\n');
  }
  const summary = new Table({ style: tableStyle() });
  summary.push(
    { best: r.best ? `${r.best.requestId} ${metric}=${formatSignificant(r.best.metric, '-')} ${compact(r.best.hparams)}` : '-' },
    { trials: String(r.trials.length) },
    { evaluations: String(r.evaluations) },
    { 'units trained': String(r.unitsTrained) },
    { 'simulated wall-clock': `${formatSignificant(r.wallClock, '-')} s (1 s per unit of length)` },
    { finished: r.finished ? 'yes' : 'no' },
  );
  process.stdout.write(summary.toString() + '\n');
}
