// Allocation lifecycle decisions, pure: given the live allocations (from the database), what the master has
// observed since it started (agent connections, rank reports) and the time, say what to do. No I/O, no clock:
// the resource manager loads state, calls these functions, persists, then performs the effects.
//
// Rules:
// - An allocation placed on an agent that has been gone longer than the grace period is lost: it ends, and its
//   trial is retried without counting a restart (a kill that was requested counts as killed).
// - A kill that was requested is signalled once per master life (the agent de-duplicates repeats).
// - A preemption that was requested gets `preemptionTimeoutMs` to checkpoint and exit, counted from when this
//   master first saw the request (after a restart, from the restart: the harness may have started its
//   checkpoint just before); past that, a kill is requested.
// - When one rank of a gang fails, the others cannot make progress. They normally learn it from the ring within
//   milliseconds and exit on their own, saying why (the harness's "distributed training failed: rank K
//   disconnected"); those still running `rankFailureGraceMs` after the first failure was seen are killed. Not at
//   once: the master hears of the failed rank about as fast as its peers do, and a kill sent at once SIGKILLs a
//   peer that was busy (a long step, a loaded host) before it could write its last lines, which are then lost to
//   the user. When every rank has exited the allocation ends with an outcome derived from the exits and the stop
//   requests.
// - When an agent says hello, its report is the truth about its ranks: tasks it runs that are not ours (or not
//   placed on it) are killed, and ranks we placed on it that it does not report are checked after
//   `helloSettleMs` (the agent replays exits queued while it was away right after hello): a rank never started
//   (allocation still ASSIGNED) is launched again; any other died while the agent was away without a record of
//   its exit (an agent of an older version, or a work directory lost): the allocation fails and the trial restarts,
//   counted against max_restarts. Ranks the hello lists as `exiting` are accounted for: their exits follow.
import type { Placement } from '../scheduler/types';

export interface LifecycleOptions {
  agentGraceMs: number;
  preemptionTimeoutMs: number;
  /** How long after an agent's hello its unreported ranks are checked. */
  helloSettleMs: number;
  /** How long the other ranks of a gang get to exit on their own after one failed, before they are killed. */
  rankFailureGraceMs: number;
}

/**
 * The default `rankFailureGraceMs`: the ring tells a rank of a peer's death in milliseconds and the harness exits
 * at once, but only between two of its steps or callbacks, and on a loaded host a process may wait a while to run.
 * Seconds cover that; a rank that is hung or waits for a peer that never came (rendezvous) is killed after it.
 */
export const RANK_FAILURE_GRACE_MS = 3000;

/** What the lifecycle needs to know of a live allocation. */
export interface AllocationView {
  id: string;
  state: 'PENDING' | 'ASSIGNED' | 'RUNNING' | 'TERMINATING';
  placement: Placement[] | null;
  killRequested: boolean;
  preemptRequested: boolean;
}

/**
 * What one rank was last seen doing: running, or exited with a code (null: killed by a signal). `seq` orders
 * exits as they arrived, so the rank that failed first is blamed, not the ones killed because of it.
 */
export type RankObservation = { running: true } | { exit: number | null; seq: number };

/**
 * What this master has observed since it started. Plain data, in memory only: after a restart the database and
 * the reconnecting agents' reports rebuild what matters.
 */
export interface Observations {
  startedAt: number;
  /** Agent id → connected or not, and since when. An agent never seen counts as gone since `startedAt`. */
  agents: Record<string, { connected: boolean; since: number }>;
  /** Allocation id → rank → last observation. */
  ranks: Record<string, Record<number, RankObservation>>;
  /** Allocations whose kill was signalled. */
  killSent: Record<string, true>;
  /** Allocation id → when this master saw the first failed exit of one of its ranks. */
  failedAt: Record<string, number>;
  /** Allocation id → when this master first saw its preemption request. */
  preemptSeenAt: Record<string, number>;
  /** Unreported ranks to check after an agent's hello. */
  helloChecks: Array<{ agentId: string; at: number; allocationIds: string[] }>;
  /** Counter behind RankObservation.seq. */
  exitSeq: number;
}

export interface AllocationOutcome {
  exitCode: number | null;
  reason: string;
  /** The allocation failed (as opposed to exiting, being preempted or killed on request). */
  failed: boolean;
  /** The failure counts against the trial's max_restarts (a lost agent does not). */
  countsAsRestart: boolean;
  /** The rank whose failure ended the allocation (the first to fail). */
  failedRank?: number;
  /** For a lost allocation: the agent that did not come back. */
  lostAgent?: string;
}

/** The exit reason as people read it: "lost agent gpu-3" rather than "lost". */
export function describeOutcome(o: AllocationOutcome): string {
  return o.reason === 'lost' && o.lostAgent ? `lost agent ${o.lostAgent}` : o.reason;
}

export type LifecycleAction =
  /** End the allocation with this outcome (the controller decides what happens to the trial). */
  | { kind: 'finish'; allocationId: string; outcome: AllocationOutcome }
  /** Signal the allocation's ranks: on every agent of its placement, or on `agentId` only. */
  | { kind: 'signal'; allocationId: string; signal: 'terminate' | 'kill'; agentId?: string }
  /** The preemption timed out: persist a kill request. */
  | { kind: 'requestKill'; allocationId: string }
  /** Wake the allocation's preemption long-poll (its harness should checkpoint and exit). */
  | { kind: 'notifyPreempt'; allocationId: string }
  /** Mark the allocation RUNNING: a rank of it runs. */
  | { kind: 'markRunning'; allocationId: string }
  /** The allocation was placed but its ranks never started (the startTask was lost): send it again. */
  | { kind: 'relaunch'; allocationId: string };

export interface Decision {
  obs: Observations;
  actions: LifecycleAction[];
}

export function initialObservations(startedAt: number): Observations {
  return { startedAt, agents: {}, ranks: {}, killSent: {}, failedAt: {}, preemptSeenAt: {}, helloChecks: [], exitSeq: 0 };
}

/** The ranks of an allocation in order: rank i runs on the i-th device of the placement. */
export function ranksOf(placement: Placement[] | null): Array<{ agentId: string; rank: number; device: number }> {
  const out: Array<{ agentId: string; rank: number; device: number }> = [];
  let rank = 0;
  for (const p of placement ?? []) for (const d of p.devices) out.push({ agentId: p.agentId, rank: rank++, device: d });
  return out;
}

function copy(obs: Observations): Observations {
  return {
    startedAt: obs.startedAt,
    agents: { ...obs.agents },
    ranks: { ...obs.ranks },
    killSent: { ...obs.killSent },
    failedAt: { ...obs.failedAt },
    preemptSeenAt: { ...obs.preemptSeenAt },
    helloChecks: [...obs.helloChecks],
    exitSeq: obs.exitSeq,
  };
}

function forget(obs: Observations, allocationId: string): void {
  delete obs.ranks[allocationId];
  delete obs.killSent[allocationId];
  delete obs.failedAt[allocationId];
  delete obs.preemptSeenAt[allocationId];
}

function agentGoneTooLong(obs: Observations, agentId: string, opts: LifecycleOptions, now: number): boolean {
  const a = obs.agents[agentId];
  if (a?.connected) return false;
  return now - (a?.since ?? obs.startedAt) > opts.agentGraceMs;
}

/**
 * The outcome of an allocation whose ranks have all exited, given `[rank, exit code]` in the order the exits
 * arrived: the first rank that failed is the one to blame (the others were killed because of it).
 */
export function outcomeOfExits(a: AllocationView, exits: Array<[number, number | null]>): AllocationOutcome {
  const failedRank = exits.find(([, c]) => c !== 0);
  const killed = a.killRequested;
  const failed = !!failedRank && !killed;
  return {
    exitCode: failedRank ? failedRank[1] : 0,
    reason: killed ? 'killed' : failed ? `rank ${failedRank![0]} exited with ${failedRank![1] ?? 'a signal'}` : a.preemptRequested ? 'preempted' : 'exited',
    failed,
    countsAsRestart: failed,
    ...(failed ? { failedRank: failedRank![0] } : {}),
  };
}

const lostOutcome = (a: AllocationView, agentId: string): AllocationOutcome => ({
  exitCode: null,
  reason: a.killRequested ? 'killed' : 'lost',
  failed: !a.killRequested,
  countsAsRestart: false,
  ...(a.killRequested ? {} : { lostAgent: agentId }),
});

/** A rank its agent came back without (and no exit of it known): it died unseen. */
const vanishedOutcome = (a: AllocationView, rank: number, agentId: string): AllocationOutcome =>
  a.killRequested
    ? { exitCode: null, reason: 'killed', failed: false, countsAsRestart: false }
    : { exitCode: null, reason: `rank ${rank} vanished: agent ${agentId} came back without it`, failed: true, countsAsRestart: true, failedRank: rank };

/** The rules for one allocation, given the observations so far; mutates `obs` (a private copy). */
function decideOne(a: AllocationView, obs: Observations, opts: LifecycleOptions, now: number, actions: LifecycleAction[]): void {
  const ranks = ranksOf(a.placement);
  const placed = a.state !== 'PENDING' && ranks.length > 0;
  const gone = placed ? ranks.find((r) => agentGoneTooLong(obs, r.agentId, opts, now)) : undefined;
  if (gone) {
    actions.push({ kind: 'finish', allocationId: a.id, outcome: lostOutcome(a, gone.agentId) });
    forget(obs, a.id);
    return;
  }
  const seen = obs.ranks[a.id] ?? {};
  // Exits of ranks of this placement only, in the order they arrived.
  const exits = Object.entries(seen)
    .filter((e): e is [string, { exit: number | null; seq: number }] => 'exit' in e[1] && Number(e[0]) < ranks.length)
    .sort((x, y) => x[1].seq - y[1].seq)
    .map(([r, o]) => [Number(r), o.exit] as [number, number | null]);
  if (placed && exits.length >= ranks.length) {
    actions.push({ kind: 'finish', allocationId: a.id, outcome: outcomeOfExits(a, exits) });
    forget(obs, a.id);
    return;
  }
  const rankFailed = exits.some(([, c]) => c !== 0);
  if (rankFailed) obs.failedAt[a.id] ??= now;
  const failedLongEnough = rankFailed && now - obs.failedAt[a.id]! >= opts.rankFailureGraceMs;
  if ((a.killRequested || failedLongEnough) && placed && !obs.killSent[a.id]) {
    actions.push({ kind: 'signal', allocationId: a.id, signal: 'kill' });
    obs.killSent[a.id] = true;
  }
  if (a.preemptRequested && !a.killRequested) {
    const since = obs.preemptSeenAt[a.id] ?? now;
    obs.preemptSeenAt[a.id] = since;
    actions.push({ kind: 'notifyPreempt', allocationId: a.id });
    if (now - since > opts.preemptionTimeoutMs) actions.push({ kind: 'requestKill', allocationId: a.id });
  }
}

/** Settles hello checks that are due: unreported ranks that did not show up since. */
function settleHelloChecks(live: Map<string, AllocationView>, obs: Observations, now: number, actions: LifecycleAction[], finished: Set<string>): void {
  const due = obs.helloChecks.filter((c) => c.at <= now);
  if (!due.length) return;
  obs.helloChecks = obs.helloChecks.filter((c) => c.at > now);
  for (const check of due) {
    for (const id of check.allocationIds) {
      const a = live.get(id);
      if (!a || finished.has(id)) continue;
      const seen = obs.ranks[id] ?? {};
      const unaccounted = ranksOf(a.placement).filter((r) => r.agentId === check.agentId && !seen[r.rank]);
      if (!unaccounted.length) continue;
      if (a.state === 'ASSIGNED' && !a.killRequested) {
        actions.push({ kind: 'relaunch', allocationId: id });
      } else {
        actions.push({ kind: 'finish', allocationId: id, outcome: vanishedOutcome(a, unaccounted[0]!.rank, check.agentId) });
        finished.add(id);
        forget(obs, id);
      }
    }
  }
}

/**
 * One lifecycle pass over `live` allocations (all of them, or the ones an event touched). Allocations the
 * observations know but `live` does not are not forgotten here: call `allocationEnded` when one ends.
 */
export function decideLifecycle(live: AllocationView[], obs0: Observations, opts: LifecycleOptions, now: number): Decision {
  const obs = copy(obs0);
  const actions: LifecycleAction[] = [];
  const finished = new Set<string>();
  for (const a of live) {
    const before = actions.length;
    decideOne(a, obs, opts, now, actions);
    if (actions.slice(before).some((x) => x.kind === 'finish')) finished.add(a.id);
  }
  settleHelloChecks(new Map(live.map((a) => [a.id, a])), obs, now, actions, finished);
  return { obs, actions };
}

/** A rank reported that it runs. */
export function rankRunning(obs0: Observations, allocationId: string, rank: number): Decision {
  const obs = copy(obs0);
  obs.ranks[allocationId] = { ...obs.ranks[allocationId], [rank]: { running: true } };
  return { obs, actions: [{ kind: 'markRunning', allocationId }] };
}

/** A rank exited; decide for its allocation at once (with no grace, a failed rank stops the others without waiting a pass). */
export function rankExited(obs0: Observations, a: AllocationView, rank: number, exitCode: number | null, opts: LifecycleOptions, now: number): Decision {
  const obs = copy(obs0);
  obs.ranks[a.id] = { ...obs.ranks[a.id], [rank]: { exit: exitCode, seq: obs.exitSeq++ } };
  const actions: LifecycleAction[] = [];
  decideOne(a, obs, opts, now, actions);
  return { obs, actions };
}

/** An agent disconnected: its grace period starts now. */
export function agentDisconnected(obs0: Observations, agentId: string, now: number): Observations {
  const obs = copy(obs0);
  obs.agents[agentId] = { connected: false, since: now };
  return obs;
}

/**
 * An agent said hello, reporting the ranks it runs. Its report replaces what we saw of its ranks before (an
 * agent that restarted runs nothing it did not report).
 */
export function agentHello(
  obs0: Observations,
  agentId: string,
  reported: Array<{ allocationId: string; rank: number }>,
  live: AllocationView[],
  opts: LifecycleOptions,
  now: number,
  exiting: Array<{ allocationId: string; rank: number }> = [],
): Decision {
  const obs = copy(obs0);
  obs.agents[agentId] = { connected: true, since: now };
  const exitingSet = new Set(exiting.map((t) => `${t.allocationId}/${t.rank}`));
  const actions: LifecycleAction[] = [];
  const byId = new Map(live.map((a) => [a.id, a]));
  const reportedSet = new Set(reported.map((t) => `${t.allocationId}/${t.rank}`));
  const killed = new Set<string>();
  for (const t of reported) {
    const a = byId.get(t.allocationId);
    const placedHere = a ? ranksOf(a.placement).filter((r) => r.agentId === agentId) : [];
    if (!a || !placedHere.length) {
      // Not ours, or not on this agent: stop it (once per allocation; the signal reaches all its ranks there).
      if (!killed.has(t.allocationId)) actions.push({ kind: 'signal', allocationId: t.allocationId, signal: 'kill', agentId });
      killed.add(t.allocationId);
      continue;
    }
    // A rank number this agent should not run while other ranks of the allocation are legitimately here:
    // killing the allocation on this agent would stop those too; ignore it (it cannot report as a placed rank).
    if (!placedHere.some((r) => r.rank === t.rank)) continue;
    obs.ranks[a.id] = { ...obs.ranks[a.id], [t.rank]: { running: true } };
    if (a.state === 'ASSIGNED') actions.push({ kind: 'markRunning', allocationId: a.id });
  }
  const toCheck: string[] = [];
  for (const a of live) {
    const mine = ranksOf(a.placement).filter((r) => r.agentId === agentId);
    if (!mine.length) continue;
    // A kill signalled while this agent was away never reached it: signal again on the next pass.
    delete obs.killSent[a.id];
    const seen = { ...obs.ranks[a.id] };
    let missing = false;
    for (const r of mine) {
      if (reportedSet.has(`${a.id}/${r.rank}`)) continue;
      // Not running any more, whatever we saw before; an exit we already know stays known.
      if (seen[r.rank] && 'running' in seen[r.rank]!) delete seen[r.rank];
      // Its exit report is on the way (queued by the agent): wait for it rather than guess.
      if (!seen[r.rank] && !exitingSet.has(`${a.id}/${r.rank}`)) missing = true;
    }
    obs.ranks[a.id] = seen;
    if (missing) toCheck.push(a.id);
  }
  if (toCheck.length) obs.helloChecks.push({ agentId, at: now + opts.helloSettleMs, allocationIds: toCheck });
  return { obs, actions };
}

/** An allocation ended: forget what was observed of it. */
export function allocationEnded(obs0: Observations, allocationId: string): Observations {
  const obs = copy(obs0);
  forget(obs, allocationId);
  return obs;
}
