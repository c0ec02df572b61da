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

/** The sum of the real entitlements, exactly: min(capacity, total demand). (Adding up the real values would depend
 * on their order in floating point, and a sum just below a whole number would leave a slot unshared.) */
function realTotal(capacity: number, claimants: Iterable<Claimant>): number {
  let demand = 0;
  for (const c of claimants) if (c.demand > 0) demand += c.demand;
  return Math.min(Math.max(0, capacity), demand);
}

/**
 * Whole-slot entitlements: floor of each real entitlement, then the leftover slots to the largest remainders
 * (ties by id). Each is within one slot of its real entitlement, never above the demand, and they sum to the
 * integer part of the real total.
 */
export function entitlements(capacity: number, claimants: readonly Claimant[]): Map<string, number> {
  const real = waterFill(capacity, claimants);
  const out = new Map<string, number>();
  let sum = 0;
  const rest: Array<{ id: string; frac: number }> = [];
  const total = realTotal(capacity, claimants);
  for (const c of claimants) {
    const e = real.get(c.id)!;
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

/** A claimant of `KeptEntitlements`, with its whole-slot entitlement (`ent`) written by `update`. */
export interface KeptClaimant extends Claimant {
  ent: number;
  /** Working values of `update`. */
  key: number;
  real: number;
  frac: number;
}

/**
 * `entitlements` for a caller that keeps its claimants between calls (the incremental scheduler, per pool): the
 * same results, written to each claimant's `ent`, but the claimants stay in the orders the last call sorted them
 * in, so that after a few demands changed both sorts cost little more than a walk. The caller edits `claimants`
 * (add, remove, change demand or weight) and calls `update`.
 */
export class KeptEntitlements {
  claimants: KeptClaimant[] = [];
  private byFrac: KeptClaimant[] = [];

  update(capacity: number): void {
    const cs = this.claimants;
    const w = (c: Claimant) => (c.weight > 0 ? c.weight : 1e-9);
    for (const c of cs) {
      c.key = c.demand / w(c);
      c.real = 0;
    }
    // waterFill, with the same arithmetic in the same order.
    cs.sort((a, b) => a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let first = 0;
    while (first < cs.length && !(cs[first].demand > 0)) first++;
    let remaining = Math.max(0, capacity);
    let weights = 0;
    for (let i = first; i < cs.length; i++) weights += w(cs[i]);
    for (let i = first; i < cs.length; i++) {
      const c = cs[i];
      const level = remaining / weights;
      if (c.demand <= w(c) * level) {
        c.real = c.demand;
        remaining -= c.demand;
        weights -= w(c);
        continue;
      }
      for (let j = i; j < cs.length; j++) cs[j].real = w(cs[j]) * level;
      break;
    }
    // entitlements: floors, then the leftover slots to the largest remainders (ties by id).
    let sum = 0;
    for (const c of cs) {
      const f = Math.floor(c.real + 1e-9);
      c.ent = f;
      c.frac = c.real - f;
      sum += f;
    }
    let left = Math.floor(realTotal(capacity, cs) + 1e-9) - sum;
    if (left <= 0) return;
    const rest = this.byFrac.length === cs.length ? this.byFrac : (this.byFrac = cs.slice());
    rest.sort((a, b) => b.frac - a.frac || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const r of rest) {
      if (left <= 0) break;
      if (r.frac <= 1e-9) continue;
      r.ent++;
      left--;
    }
  }

  add(c: KeptClaimant): void {
    this.claimants.push(c);
    this.byFrac = [];
  }

  remove(c: KeptClaimant): void {
    const i = this.claimants.indexOf(c);
    if (i >= 0) this.claimants.splice(i, 1);
    this.byFrac = [];
  }
}
