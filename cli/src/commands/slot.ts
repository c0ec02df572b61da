// `hone slot list`: every slot of every agent, and which trial holds it.
import type { Command } from 'commander';
import type { AgentInfo } from '@hone/protocol';
import { addListCommand } from '../list-command';

export function registerSlotCommands(program: Command): void {
  const slot = program.command('slot').alias('s').description('slots (GPUs or CPU slots) of the agents');
  addListCommand(slot, program, {
    fetch: async (c) => (await c.get<AgentInfo[]>('/agents')).flatMap((a) => a.slots.map((s) => ({ ...s, pool: a.resourcePool, agentState: a.state }))),
    head: ['Agent', 'Slot', 'Type', 'Device', 'Pool', 'State', 'Trial', 'Experiment'],
    row: (s) => [s.agentId, s.id, s.type, s.brand, s.pool, s.allocationId ? 'BUSY' : s.agentState === 'CONNECTED' ? 'FREE' : 'OFFLINE', s.trialId, s.experimentId],
  });
}
