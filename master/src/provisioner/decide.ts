// The scale decider: `decide(snapshot, config, now) -> { launch, terminate, reasons }`. Pure.
//
// Demand. Pending gangs (in scheduling order, each group's gangs only up to its max_slots) are packed, best fit,
// into the slots that exist or are coming: free slots of fixed agents and registered instances, then whole
// instances still starting (slots_per_instance each), then new instances. A gang of N <= slots_per_instance goes on
// one instance; a larger one takes N / slots_per_instance whole instances (the scheduler's gang rule, fit.ts). The
// new instances that packing opens are what the gangs need beyond those starting; launches are that, capped by
// max_instances, plus whatever brings the pool up to min_instances.
//
// Release. Never an instance with a running or assigned allocation, never below min_instances, never one whose
// free slots the packing just promised to a pending gang. In Determined's order: instances whose agent never
// registered within max_starting_period (a failed launch), then those whose agent has been away that long, then
// instances idle for idle_timeout, longest idle first, then idle instances above max_instances (the limit was
// lowered). An instance is idle only once registered, so demand launched for is never released before it has been
// idle for idle_timeout: no launch→terminate thrash.
//
// Caution. A failed or partial cloud list means the instances are unknown, not absent: decide changes nothing.
// After failed launches it waits launch_backoff · 2^(failures-1) (capped) from the last failure before launching
// again: the error is sticky until a launch registers.
import type { Decision, InstanceView, PendingGang, ProviderConfig, ProvisionerSnapshot, TerminateReason } from './types';

const STARTING = new Set(['requested', 'launching']);

/** How long to wait after `count` failed launches in a row, in seconds. */
export function launchBackoff(config: Pick<ProviderConfig, 'launch_backoff' | 'max_launch_backoff'>, count: number): number {
  if (count <= 0) return 0;
  return Math.min(config.max_launch_backoff, config.launch_backoff * 2 ** Math.min(30, count - 1));
}

/** The gangs that count as demand: each group's, in order, only while they fit under its max_slots. */
export function demandGangs(s: Pick<ProvisionerSnapshot, 'pending' | 'groups'>): { gangs: PendingGang[]; capped: number } {
  const budget = new Map<string, number>();
  for (const g of s.groups) if (g.maxSlots !== undefined) budget.set(g.id, Math.max(0, g.maxSlots - g.heldSlots));
  const gangs: PendingGang[] = [];
  let capped = 0;
  for (const p of s.pending) {
    const left = budget.get(p.groupId);
    if (left !== undefined) {
      if (p.slots > left) {
        capped++;
        continue;
      }
      budget.set(p.groupId, left - p.slots);
    }
    gangs.push(p);
  }
  return { gangs, capped };
}

interface Bin {
  /** Instance id, or null for fixed agents and new instances. */
  id: string | null;
  free: number;
  size: number;
  kind: 'static' | 'registered' | 'starting' | 'new';
}

/**
 * Packs the gangs into existing bins and then new instances of `size` slots. Returns how many new instances it
 * opened, the registered instances whose slots it promised, and the gangs no instance of this size can ever hold.
 */
export function pack(gangs: PendingGang[], bins: Bin[], size: number): { opened: number; claimed: Set<string>; unfit: PendingGang[] } {
  const claimed = new Set<string>();
  const unfit: PendingGang[] = [];
  let opened = 0;
  const open = (free: number): Bin => {
    opened++;
    const b: Bin = { id: null, free, size, kind: 'new' };
    bins.push(b);
    return b;
  };
  const claim = (b: Bin) => {
    if (b.id !== null) claimed.add(b.id);
  };
  for (const g of gangs) {
    if (g.slots <= 0) {
      // Needs an agent but no device: any agent will do.
      const b = bins[0] ?? open(size);
      claim(b);
      continue;
    }
    const fitsOne = g.slots <= size || bins.some((b) => b.kind === 'static' && b.size >= g.slots);
    if (fitsOne) {
      let best: Bin | undefined;
      for (const b of bins) if (b.free >= g.slots && (!best || b.free < best.free)) best = b;
      if (!best) {
        if (g.slots > size) {
          unfit.push(g);
          continue;
        }
        best = open(size);
      }
      best.free -= g.slots;
      claim(best);
      continue;
    }
    if (size <= 0 || g.slots % size !== 0) {
      unfit.push(g);
      continue;
    }
    let need = g.slots / size;
    for (const b of bins) {
      if (need === 0) break;
      if (b.kind !== 'static' && b.size === size && b.free === size) {
        b.free = 0;
        claim(b);
        need--;
      }
    }
    while (need-- > 0) open(size).free = 0;
  }
  return { opened, claimed, unfit };
}

export function decide(s: ProvisionerSnapshot, config: ProviderConfig, now: number): Decision {
  const reasons: string[] = [];
  if (!s.listOk) {
    return { launch: 0, terminate: [], wanted: 0, reasons: ['the cloud did not list this pool\'s instances (failed or partial): changing nothing until it does'] };
  }
  const S = config.slots_per_instance;
  const live = s.instances.filter((i) => i.state !== 'terminating');
  const starting = live.filter((i) => STARTING.has(i.state));
  const registered = live.filter((i) => !STARTING.has(i.state));

  // ---- demand ----
  const { gangs, capped } = demandGangs(s);
  const bins: Bin[] = [
    ...s.staticFreeSlots.filter((n) => n > 0).map((n): Bin => ({ id: null, free: n, size: n, kind: 'static' })),
    ...registered.filter((i) => i.connected).map((i): Bin => ({ id: i.id, free: i.freeSlots, size: S, kind: 'registered' })),
    ...starting.map((i): Bin => ({ id: i.id, free: S, size: S, kind: 'starting' })),
  ];
  const { opened, claimed, unfit } = pack(gangs, bins, S);
  if (capped) reasons.push(`${capped} pending gang(s) held back by their experiment's max_slots`);
  if (unfit.length) reasons.push(`${unfit.length} pending gang(s) can never fit instances of ${S} slots (e.g. ${unfit[0]!.slots} slots)`);

  // ---- release ----
  const terminate: Array<{ id: string; reason: TerminateReason }> = [];
  const gone = new Set<string>();
  let remaining = live.length;
  const release = (i: InstanceView, reason: TerminateReason, force = false): boolean => {
    if (i.busy || gone.has(i.id)) return false;
    if (!force && remaining <= config.min_instances) return false;
    terminate.push({ id: i.id, reason });
    gone.add(i.id);
    remaining--;
    return true;
  };
  const startMs = config.max_starting_period * 1000;
  // A launch that never registered is a failure: released even at min_instances (a replacement is launched).
  for (const i of starting) if (now - i.createdAt >= startMs) release(i, 'start-timeout', true);
  for (const i of registered) if (!i.connected && i.disconnectedSince !== undefined && now - i.disconnectedSince >= startMs) release(i, 'disconnected', true);
  const idle = registered
    .filter((i) => i.connected && !i.busy && i.idleSince !== undefined && !claimed.has(i.id))
    .sort((a, b) => a.idleSince! - b.idleSince! || (a.id < b.id ? -1 : 1));
  for (const i of idle) if (now - i.idleSince! >= config.idle_timeout * 1000) release(i, 'idle');
  if (remaining > config.max_instances) {
    for (const i of idle) if (remaining > config.max_instances && !gone.has(i.id)) release(i, 'excess');
  }
  const counts = new Map<TerminateReason, number>();
  for (const t of terminate) counts.set(t.reason, (counts.get(t.reason) ?? 0) + 1);
  for (const [r, n] of counts) reasons.push(`terminating ${n} instance(s): ${REASON_TEXT[r]}`);

  // ---- launch ----
  // Starting instances released for timing out leave their demand behind: pack it again as new instances.
  const timedOut = terminate.filter((t) => t.reason === 'start-timeout' || t.reason === 'disconnected').length;
  const wanted = opened + Math.min(timedOut, claimedOnReleased(terminate, claimed));
  const room = Math.max(0, config.max_instances - remaining);
  const forMin = Math.max(0, config.min_instances - remaining);
  let launch = Math.min(room, Math.max(wanted, forMin));
  if (wanted > room) reasons.push(`pending gangs want ${wanted} more instance(s); max_instances (${config.max_instances}) allows ${room}`);
  if (launch > 0 && s.launchFailures.count > 0) {
    const until = s.launchFailures.lastAt + launchBackoff(config, s.launchFailures.count) * 1000;
    if (now < until) {
      reasons.push(`backing off after ${s.launchFailures.count} failed launch(es) in a row: next try in ${Math.ceil((until - now) / 1000)} s`);
      launch = 0;
    }
  }
  if (launch > 0) reasons.push(`launching ${launch} instance(s): ${forMin > wanted ? `min_instances is ${config.min_instances}` : `${gangs.length} pending gang(s) need ${wanted} more than the ${starting.length} starting`}`);
  if (!reasons.length) reasons.push(gangs.length ? `${gangs.length} pending gang(s) fit the instances running or starting` : 'no pending work; nothing to do');
  return { launch, terminate, reasons, wanted };
}

/** Released starting instances whose slots the packing had promised (their demand must be met by new ones). */
function claimedOnReleased(terminate: Array<{ id: string }>, claimed: Set<string>): number {
  return terminate.filter((t) => claimed.has(t.id)).length;
}

const REASON_TEXT: Record<TerminateReason, string> = {
  idle: 'idle for idle_timeout',
  'start-timeout': 'their agent never registered within max_starting_period (counted as failed launches)',
  disconnected: 'their agent has been away longer than max_starting_period',
  excess: 'idle and above max_instances',
};
