// Submit-time check that a gang can ever fit in its pool, against the agents that exist now.
import type { MasterContext } from '../server';

export async function canEverFitPool(ctx: MasterContext, pool: string, slots: number): Promise<{ fits: true } | { fits: false; reason: string }> {
  const r = await ctx.db.query<{ id: string; devices: unknown[]; connected: boolean }>('SELECT id, devices, connected FROM agents WHERE resource_pool = $1', [pool]);
  const connected = [...ctx.hub.agents.values()].filter((a) => a.pool === pool);
  const sizes = new Map<string, number>();
  for (const a of r.rows) sizes.set(a.id, a.devices.length);
  for (const a of connected) sizes.set(a.id, a.devices.length);
  // An empty pool may still get agents (they can join later): do not refuse then.
  if (sizes.size === 0) return { fits: true };
  const list = [...sizes.values()];
  const largest = Math.max(...list);
  if (slots <= largest) return { fits: true };
  // Larger gangs take whole agents of the largest size.
  const whole = list.filter((n) => n === largest).length;
  if (slots % largest !== 0) {
    return { fits: false, reason: `a gang of ${slots} slots cannot be placed in pool "${pool}": it is larger than one agent (${largest} slots) and not a multiple of the agent size` };
  }
  if (slots / largest > whole) {
    return { fits: false, reason: `pool "${pool}" has ${whole * largest} slots on agents of ${largest}; a gang of ${slots} can never fit` };
  }
  return { fits: true };
}
