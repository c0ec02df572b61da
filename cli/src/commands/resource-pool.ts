// `hone resource-pool list`: each pool's agents, slots in use and waiting demand; for pools with a provider, their
// instances by state and why the provisioner last acted (then listed instance by instance).
import type { Command } from 'commander';
import type { ProvisionedPoolInfo, ResourcePoolInfo } from '@hone/protocol';
import type { Client } from '../client';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';


const STATES = ['requested', 'launching', 'running', 'idle', 'terminating'];

export function instancesSummary(p: ProvisionedPoolInfo): string {
  const parts = STATES.filter((s) => p.instancesByState[s]).map((s) => `${p.instancesByState[s]} ${s}`);
  return parts.length ? parts.join(', ') : 'none';
}

async function provisioned(c: Client): Promise<ProvisionedPoolInfo[]> {
  try {
    return await c.get<ProvisionedPoolInfo[]>('/provisioner/pools');
  } catch (e) {
    // An older master has no provisioner: its pools are all fixed.
    if ((e as { status?: number }).status === 404) return [];
    throw e;
  }
}

export function registerResourcePoolCommands(program: Command): void {
  const pool = program.command('resource-pool').alias('rp').description('resource pools');
  pool
    .command('list')
    .alias('ls')
    .description('pools: agents, slots, pending work; instances and the provisioner\'s last reason for pools with a provider')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const c = masterClient(program);
      const [pools, prov] = await Promise.all([c.get<ResourcePoolInfo[]>('/resource-pools'), provisioned(c)]);
      const byName = new Map(prov.map((p) => [p.pool, p]));
      if (wantsJson(program, o)) return printJson(pools.map((p) => ({ ...p, ...(byName.has(p.name) ? { provisioner: byName.get(p.name) } : {}) })));
      for (const p of prov) if (!pools.some((x) => x.name === p.pool)) pools.push({ name: p.pool, agents: 0, slots: 0, slotsUsed: 0, pendingAllocations: 0, pendingSlots: 0 });
      console.log(
        table(
          ['Pool', 'Agents', 'Slots', 'Used', 'Pending jobs', 'Pending slots', 'Provider', 'Instances'],
          pools.map((p) => {
            const v = byName.get(p.name);
            return [p.name, p.agents, p.slots, p.slotsUsed, p.pendingAllocations, p.pendingSlots, v ? `${v.provider} ${v.minInstances}-${v.maxInstances} × ${v.instanceType}` : 'fixed', v ? instancesSummary(v) : ''];
          }),
        ),
      );
      for (const v of prov) {
        console.log(`\nPool ${v.pool}: the provisioner last said (${v.lastPassAt ?? 'no pass yet'}):`);
        for (const r of v.lastReasons) console.log(`  - ${r}`);
        if (v.launchFailures) console.log(`  launch failures in a row: ${v.launchFailures}`);
        const shown = v.instances.filter((i) => i.state !== 'terminated' || v.instances.length <= 10);
        if (shown.length) {
          console.log(table(['Instance', 'State', 'Cloud id', 'Slots', 'Since', 'Reason'], shown.map((i) => [i.id, i.state, i.cloudId ?? '', i.slots, i.terminatedAt ?? i.createdAt, i.reason ?? ''])));
        }
      }
    });
}
