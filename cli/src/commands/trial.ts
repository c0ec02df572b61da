// `hone trial`: one trial's hyperparameters, metrics, checkpoints, restart history and reproducibility record, its
// logs; kill one trial, continue an ended one as a new experiment, compare trials side by side.
import type { Command } from 'commander';
import type { ExperimentDetail, ExperimentSummary, TrialComparison, TrialDetail, TrialSummary } from '@hone/protocol/api';
import { HoneError } from '@hone/protocol/errors';
import { formatTableNumber } from '@hone/protocol/format';
import { flattenValues } from '@hone/protocol/hyperparameters';
import { describeTrial, lengthUnit } from '../describe';
import { masterClient, wantsJson } from '../global-options';
import { logFilters, streamLogs } from '../logs';
import { printJson, table } from '../output';
import { parseId } from '../parse-id';
import { readOverrides } from './experiment';

/** The comparison as a table: one row per hyperparameter (differences marked `*`) and per final metric. */
export function comparisonTable(c: TrialComparison): string {
  const head = ['', ...c.trials.map((t) => `Trial ${t.id} (exp ${t.experimentId})`)];
  const flat = c.trials.map((t) => flattenValues(t.hparams));
  const cell = (v: unknown) => (v === undefined ? '-' : typeof v === 'number' ? formatTableNumber(v) : typeof v === 'string' ? v : JSON.stringify(v));
  const rows: Array<Array<string | number>> = [
    ['State', ...c.trials.map((t) => t.state)],
    ['Length', ...c.trials.map((t) => t.trainedLength)],
    ...c.hparamNames.map((n) => [`${c.differingHparams.includes(n) ? '* ' : '  '}${n}`, ...flat.map((f) => cell(f[n]))]),
    ['Best (searcher metric)', ...c.trials.map((t) => `${formatTableNumber(t.bestValidation)} ${t.metric}`)],
    ...c.metricNames.map((m) => [m, ...c.trials.map((t) => cell(t.latestValidation?.[m]))]),
  ];
  return `${table(head, rows)}\n* hyperparameter differs between the trials; metrics are each trial's latest validation`;
}

export function registerTrialCommands(program: Command): void {
  const trial = program.command('trial').alias('t').description('inspect and manage trials');
  trial
    .command('describe <id>')
    .description('a trial: hyperparameters, metrics, checkpoints, each run (restart history), and what it ran with')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { json?: boolean }) => {
      const c = masterClient(program);
      const t = await c.get<TrialDetail>(`/trials/${parseId(idStr, 'trial id')}`);
      if (wantsJson(program, o)) return printJson(t);
      // The length unit lives in the experiment's config.
      const e = await c.get<ExperimentDetail>(`/experiments/${t.experimentId}`);
      console.log(describeTrial(t, lengthUnit(e.config)));
    });
  trial
    .command('logs <id>')
    .description("print a trial's logs (all ranks, stdout and stderr alike) on stdout, filtered on the master")
    .option('--rank <n>', 'only this rank')
    .option('--level <level>', 'this level and more severe (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)')
    .option('--grep <regex>', 'only lines matching this regular expression (POSIX, as PostgreSQL)')
    .option('--since <when>', 'only lines since an ISO time or a duration back from now (10m, 2h, 1d)')
    .option('-f, --follow', 'keep printing new lines until the trial ends')
    .option('--tail <n>', 'only the last n lines')
    .option('--json', 'one JSON object per line')
    .action(async (idStr: string, o: { follow?: boolean; tail?: string; json?: boolean; rank?: string; level?: string; grep?: string; since?: string }) => {
      const tail = o.tail !== undefined ? parseId(o.tail, '--tail') : undefined;
      await streamLogs(masterClient(program), parseId(idStr, 'trial id'), {
        follow: !!o.follow,
        ...(tail !== undefined ? { tail } : {}),
        json: wantsJson(program, o),
        filters: logFilters(o),
      });
    });
  trial
    .command('kill <id>')
    .description('kill one trial (the rest of its experiment goes on; the searcher is told it exited)')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { json?: boolean }) => {
      const id = parseId(idStr, 'trial id');
      const t = await masterClient(program).post<TrialSummary>(`/trials/${id}/kill`);
      if (wantsJson(program, o)) return printJson(t);
      console.log(`Trial ${id}: ${t.state}`);
    });
  trial
    .command('continue <id>')
    .description('train an ended trial further from its latest checkpoint, as a new single-trial experiment')
    .requiredOption('--length <n>', "total length to train to, in the experiment's unit (more than the trial has trained)")
    .option('--config <file>', 'YAML of config fields to change (merged on top)')
    .option('--project <name>', 'put the new experiment in this project')
    .option('--paused', 'create it paused')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { length: string; config?: string; project?: string; paused?: boolean; json?: boolean }) => {
      const id = parseId(idStr, 'trial id');
      const length = parseId(o.length, '--length');
      const config = readOverrides(o.config);
      const e = await masterClient(program).post<ExperimentSummary>(`/trials/${id}/continue`, {
        length,
        ...(config !== undefined ? { config } : {}),
        ...(o.project ? { project: o.project } : {}),
        activate: !o.paused,
      });
      if (wantsJson(program, o)) return printJson(e);
      console.log(`Created experiment ${e.id} (continues trial ${id})`);
    });
  trial
    .command('compare <ids...>')
    .description('2 to 10 trials side by side: hyperparameters (differences marked) and final metrics')
    .option('--json', 'print JSON')
    .action(async (idStrs: string[], o: { json?: boolean }) => {
      const ids = idStrs.flatMap((s) => s.split(',')).filter(Boolean).map((s) => parseId(s, 'trial id'));
      if (ids.length < 2 || ids.length > 10) throw new HoneError('INVALID_ARGUMENT', `compare 2 to 10 trials, got ${ids.length}`);
      const c = await masterClient(program).get<TrialComparison>(`/trials/compare?ids=${ids.join(',')}`);
      if (wantsJson(program, o)) return printJson(c);
      console.log(comparisonTable(c));
    });
}
