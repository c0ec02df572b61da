// `hone agent list`: the agents connected to (or known by) the master, with their slots in use.
import type { Command } from 'commander';
import type { AgentInfo } from '@hone/protocol';
import { formatUtcTime } from '@hone/protocol/format';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .alias('a')
    .description('agents in the cluster')
    .command('list')
    .alias('ls')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const agents = await masterClient(program).get<AgentInfo[]>('/agents');
      if (wantsJson(program, o)) return printJson(agents);
      console.log(
        table(
          ['Agent', 'Pool', 'State', 'Slots', 'Used', 'Hostname', 'Last seen'],
          agents.map((a) => [a.id, a.resourcePool, a.state, a.slots.length, a.slots.filter((s) => s.allocationId).length, a.hostname, formatUtcTime(a.lastSeen)]),
        ),
      );
    });
}
