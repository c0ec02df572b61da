// `hone trial`: one trial's hyperparameters, metrics and checkpoints, and its logs.
import type { Command } from 'commander';
import type { CheckpointInfo, TrialSummary } from '@hone/protocol';
import { formatHParams, formatKiB, formatTableNumber } from '@hone/protocol/format';
import { masterClient, wantsJson } from '../global-options';
import { streamLogs } from '../logs';
import { printJson, table } from '../output';
import { parseId } from '../parse-id';

export function registerTrialCommands(program: Command): void {
  const trial = program.command('trial').alias('t').description('inspect trials');
  trial
    .command('describe <id>')
    .description('a trial: hyperparameters, metrics, checkpoints')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { json?: boolean }) => {
      const t = await masterClient(program).get<TrialSummary & { checkpoints: CheckpointInfo[] }>(`/trials/${parseId(idStr, 'trial id')}`);
      if (wantsJson(program, o)) return printJson(t);
      console.log(`Trial ${t.id} (experiment ${t.experimentId}): ${t.state}`);
      console.log(`  Hyperparameters: ${formatHParams(t.hparams)}`);
      console.log(`  Length: ${t.completedLength}/${t.targetLength}    Restarts: ${t.restarts}    Best validation: ${formatTableNumber(t.bestValidation)}`);
      if (t.latestValidation) console.log(`  Latest validation: ${formatHParams(t.latestValidation)}`);
      console.log('\nCheckpoints:');
      console.log(
        table(
          ['UUID', 'Steps', 'Files', 'Size', 'Validation'],
          t.checkpoints.map((c) => [c.uuid, c.stepsCompleted, Object.keys(c.resources).length, formatKiB(Object.values(c.resources).reduce((a, b) => a + b, 0)), formatTableNumber(c.validationMetric)]),
        ),
      );
    });
  trial
    .command('logs <id>')
    .description("print a trial's logs")
    .option('-f, --follow', 'keep printing new lines until the trial ends')
    .option('--tail <n>', 'only the last n lines')
    .option('--json', 'one JSON object per line')
    .action(async (idStr: string, o: { follow?: boolean; tail?: string; json?: boolean }) => {
      const tail = o.tail !== undefined ? parseId(o.tail, '--tail') : undefined;
      await streamLogs(masterClient(program), parseId(idStr, 'trial id'), { follow: !!o.follow, ...(tail !== undefined ? { tail } : {}), json: wantsJson(program, o) });
    });
}
