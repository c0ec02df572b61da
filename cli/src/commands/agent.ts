// `hone agent list`: the agents connected to (or known by) the master, with their slots in use.
import type { Command } from 'commander';
import type { AgentInfo } from '@hone/protocol';
import { formatUtcTime } from '@hone/protocol/format';
import { addListCommand } from '../list-command';

export function registerAgentCommands(program: Command): void {
  const agent = program.command('agent').alias('a').description('agents in the cluster');
  addListCommand(agent, program, {
    fetch: (c) => c.get<AgentInfo[]>('/agents'),
    head: ['Agent', 'Pool', 'State', 'Slots', 'Used', 'Hostname', 'Last seen'],
    row: (a) => [a.id, a.resourcePool, a.state, a.slots.length, a.slots.filter((s) => s.allocationId).length, a.hostname, formatUtcTime(a.lastSeen)],
  });
}
