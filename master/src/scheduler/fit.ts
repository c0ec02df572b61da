// Gang shape rules, shared by `canEverFit` (refuse at submit time) and the scheduling pass.
//
// Let S be the size (slot count) of the largest agent of the pool, enabled or not.
// - A gang of N <= S slots goes on ONE agent: a small gang is never spread across machines, so its ranks talk over
//   NVLink/PCIe rather than the network.
// - A gang of N > S slots takes WHOLE agents of size S, and N must be a multiple of S (as Determined requires):
//   16 slots on 8-slot agents = two whole agents; 12 slots on 8-slot agents is refused. Smaller agents of a mixed
//   pool are never part of a multi-agent gang, so every rank of such a gang has an identical machine.
import type { Agent, FitCheck } from './types';

/** What the shape rules need to know about a pool. */
export interface PoolShape {
  name: string;
  /** Number of agents in the pool (enabled or not). */
  agents: number;
  /** Size of the largest agent. */
  largest: number;
  /** How many agents have that size. */
  largestCount: number;
}

/** Why a gang of `slots` can never be placed in a pool of this shape, or undefined when it can. */
export function shapeRefusal(shape: PoolShape, slots: number): string | undefined {
  if (!Number.isInteger(slots) || slots < 0) return `slots must be a whole number >= 0 (got ${slots})`;
  if (shape.agents === 0) return `no agent in pool '${shape.name}'`;
  if (slots === 0 || slots <= shape.largest) return undefined;
  if (shape.largest === 0) return `no agent in pool '${shape.name}' has any slots`;
  if (slots % shape.largest !== 0) {
    return `a gang of ${slots} slots is larger than one agent, so it needs whole agents: ${slots} is not a multiple of ${shape.largest} slots per agent in pool '${shape.name}'`;
  }
  const need = slots / shape.largest;
  if (need > shape.largestCount) {
    return `a gang of ${slots} slots needs ${need} whole agents of ${shape.largest} slots; pool '${shape.name}' has ${shape.largestCount}`;
  }
  return undefined;
}

export function poolShape(agents: readonly Agent[], pool: string): PoolShape {
  const shape: PoolShape = { name: pool, agents: 0, largest: 0, largestCount: 0 };
  for (const a of agents) {
    if (a.pool !== pool) continue;
    shape.agents++;
    const n = a.slots.length;
    if (n > shape.largest) {
      shape.largest = n;
      shape.largestCount = 1;
    } else if (n === shape.largest) {
      shape.largestCount++;
    }
  }
  return shape;
}

/**
 * Whether a gang of `slots` could ever be placed in `pool` given these agents (enabled or not: a disabled agent
 * may come back). The master calls it at submit time, to refuse work that would wait forever.
 *
 * A pool with no agent at all ACCEPTS any gang: agents join pools when they start (`--pool`), and an autoscaler
 * may grow an empty pool from zero, so work submitted before its machines exist must wait, not be refused. The
 * scheduling pass still reports such work as waiting with "no agent in pool '<name>'".
 */
export function canEverFit(agents: readonly Agent[], pool: string, slots: number): FitCheck {
  const shape = poolShape(agents, pool);
  if (shape.agents === 0) return Number.isInteger(slots) && slots >= 0 ? { fits: true } : { fits: false, reason: `slots must be a whole number >= 0 (got ${slots})` };
  const reason = shapeRefusal(shape, slots);
  return reason === undefined ? { fits: true } : { fits: false, reason };
}
