// `hone slot list`: every slot of every agent, and which trial holds it.
import type { Command } from 'commander';
import type { AgentInfo } from '@hone/protocol';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';

export function registerSlotCommands(program: Command): void {
  program
    .command('slot')
    .alias('s')
    .description('slots (GPUs or CPU slots) of the agents')
    .command('list')
    .alias('ls')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const agents = await masterClient(program).get<AgentInfo[]>('/agents');
      const slots = agents.flatMap((a) => a.slots.map((s) => ({ ...s, pool: a.resourcePool, agentState: a.state })));
      if (wantsJson(program, o)) return printJson(slots);
      console.log(
        table(
          ['Agent', 'Slot', 'Type', 'Device', 'Pool', 'State', 'Trial', 'Experiment'],
          slots.map((s) => [s.agentId, s.id, s.type, s.brand, s.pool, s.allocationId ? 'BUSY' : s.agentState === 'CONNECTED' ? 'FREE' : 'OFFLINE', s.trialId, s.experimentId]),
        ),
      );
    });
}
