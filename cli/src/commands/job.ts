// `hone job list`: the scheduling queue in order, with why each waiting job waits.
import type { Command } from 'commander';
import type { JobInfo } from '@hone/protocol';
import { addListCommand } from '../list-command';

export function registerJobCommands(program: Command): void {
  const job = program.command('job').alias('j').description('the scheduling queue');
  addListCommand(job, program, {
    fetch: (c) => c.get<JobInfo[]>('/jobs'),
    head: ['#', 'Experiment', 'Trial', 'State', 'Slots', 'Pool', 'Priority', 'Weight', 'Waiting because'],
    row: (j) => [j.position, j.experimentId, j.trialId, j.state, j.slots, j.resourcePool, j.priority, j.weight, j.reason ?? ''],
  });
}
