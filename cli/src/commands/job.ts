// `hone job list`: the scheduling queue in order, with why each waiting job waits.
import type { Command } from 'commander';
import type { JobInfo } from '@hone/protocol';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';

export function registerJobCommands(program: Command): void {
  program
    .command('job')
    .alias('j')
    .description('the scheduling queue')
    .command('list')
    .alias('ls')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const jobs = await masterClient(program).get<JobInfo[]>('/jobs');
      if (wantsJson(program, o)) return printJson(jobs);
      console.log(
        table(
          ['#', 'Experiment', 'Trial', 'State', 'Slots', 'Pool', 'Priority', 'Weight', 'Waiting because'],
          jobs.map((j) => [j.position, j.experimentId, j.trialId, j.state, j.slots, j.resourcePool, j.priority, j.weight, j.reason ?? '']),
        ),
      );
    });
}
