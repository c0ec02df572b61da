// `hone resource-pool list`: each pool's agents, slots in use and waiting demand.
import type { Command } from 'commander';
import type { ResourcePoolInfo } from '@hone/protocol';
import { addListCommand } from '../list-command';

export function registerResourcePoolCommands(program: Command): void {
  const pool = program.command('resource-pool').alias('rp').description('resource pools');
  addListCommand(pool, program, {
    fetch: (c) => c.get<ResourcePoolInfo[]>('/resource-pools'),
    head: ['Pool', 'Agents', 'Slots', 'Used', 'Pending jobs', 'Pending slots'],
    row: (p) => [p.name, p.agents, p.slots, p.slotsUsed, p.pendingAllocations, p.pendingSlots],
  });
}
