// `hone trial`: one trial's hyperparameters, metrics, checkpoints and restart history, and its logs.
import type { Command } from 'commander';
import type { ExperimentDetail, TrialDetail } from '@hone/protocol/api';
import { describeTrial, lengthUnit } from '../describe';
import { masterClient, wantsJson } from '../global-options';
import { streamLogs } from '../logs';
import { printJson } from '../output';
import { parseId } from '../parse-id';

export function registerTrialCommands(program: Command): void {
  const trial = program.command('trial').alias('t').description('inspect trials');
  trial
    .command('describe <id>')
    .description('a trial: hyperparameters, metrics, checkpoints, and each run (restart history) with how it ended')
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
    .description("print a trial's logs (all ranks, stdout and stderr alike) on stdout")
    .option('-f, --follow', 'keep printing new lines until the trial ends')
    .option('--tail <n>', 'only the last n lines')
    .option('--json', 'one JSON object per line')
    .action(async (idStr: string, o: { follow?: boolean; tail?: string; json?: boolean }) => {
      const tail = o.tail !== undefined ? parseId(o.tail, '--tail') : undefined;
      await streamLogs(masterClient(program), parseId(idStr, 'trial id'), { follow: !!o.follow, ...(tail !== undefined ? { tail } : {}), json: wantsJson(program, o) });
    });
}
