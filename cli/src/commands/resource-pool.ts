// `hone resource-pool list`: each pool's agents, slots in use and waiting demand.
import type { Command } from 'commander';
import type { ResourcePoolInfo } from '@hone/protocol';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';

export function registerResourcePoolCommands(program: Command): void {
  program
    .command('resource-pool')
    .alias('rp')
    .description('resource pools')
    .command('list')
    .alias('ls')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const pools = await masterClient(program).get<ResourcePoolInfo[]>('/resource-pools');
      if (wantsJson(program, o)) return printJson(pools);
      console.log(table(['Pool', 'Agents', 'Slots', 'Used', 'Pending jobs', 'Pending slots'], pools.map((p) => [p.name, p.agents, p.slots, p.slotsUsed, p.pendingAllocations, p.pendingSlots])));
    });
}
