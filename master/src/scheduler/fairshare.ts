// Fair-share entitlements by water-filling: capacity is divided between groups in proportion to weight; a group
// that wants less than its proportional share gets exactly its demand, and what it leaves is shared again among
// the others, until every group is either satisfied or at the common level.

export interface Claimant {
  id: string;
  weight: number;
  /** Slots the group could use (running + pending, capped by max_slots). */
  demand: number;
}

/** Real-valued entitlements. Sum = min(capacity, total demand). Weights <= 0 count as a tiny positive weight. */
export function waterFill(capacity: number, claimants: readonly Claimant[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of claimants) out.set(c.id, 0);
  const w = (c: Claimant) => (c.weight > 0 ? c.weight : 1e-9);
  // Raise the common level; groups whose demand is below it are satisfied in order of demand per weight.
  // Ties by id, so that the result does not depend on the claimants' order (floating-point sums of weights do).
  const active = claimants
    .filter((c) => c.demand > 0)
    .sort((a, b) => a.demand / w(a) - b.demand / w(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let remaining = Math.max(0, capacity);
  let weights = 0;
  for (const c of active) weights += w(c);
  for (let i = 0; i < active.length; i++) {
    const c = active[i];
    const level = remaining / weights;
    if (c.demand <= w(c) * level) {
      out.set(c.id, c.demand);
      remaining -= c.demand;
      weights -= w(c);
      continue;
    }
    for (let j = i; j < active.length; j++) out.set(active[j].id, w(active[j]) * level);
    break;
  }
  return out;
}

/**
 * Whole-slot entitlements: floor of each real entitlement, then the leftover slots to the largest remainders
 * (ties by id). Each is within one slot of its real entitlement, never above the demand, and they sum to the
 * integer part of the real total.
 */
export function entitlements(capacity: number, claimants: readonly Claimant[]): Map<string, number> {
  const real = waterFill(capacity, claimants);
  const out = new Map<string, number>();
  let total = 0;
  let sum = 0;
  const rest: Array<{ id: string; frac: number }> = [];
  for (const c of claimants) {
    const e = real.get(c.id)!;
    total += e;
    const f = Math.floor(e + 1e-9);
    out.set(c.id, f);
    sum += f;
    rest.push({ id: c.id, frac: e - f });
  }
  let left = Math.floor(total + 1e-9) - sum;
  rest.sort((a, b) => b.frac - a.frac || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of rest) {
    if (left <= 0) break;
    if (r.frac <= 1e-9) continue;
    out.set(r.id, out.get(r.id)! + 1);
    left--;
  }
  return out;
}
