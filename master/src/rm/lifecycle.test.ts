// The allocation lifecycle rules (see the header of lifecycle.ts), played as scripts against a fake clock: each
// step is a time, an event the resource manager would feed the pure functions, and the actions it must get back.
// Between steps the script performs the effects the way the master does (a finished allocation leaves the live
// set, a requested kill is persisted, markRunning moves ASSIGNED to RUNNING), so later passes see what a
// restarted pass over the database would see.
import { describe, expect, it } from 'vitest';
import {
  agentDisconnected,
  agentHello,
  allocationEnded,
  decideLifecycle,
  initialObservations,
  outcomeOfExits,
  rankExited,
  rankRunning,
  ranksOf,
  type AllocationView,
  type Decision,
  type LifecycleAction,
  type LifecycleOptions,
  type Observations,
} from './lifecycle';

const OPTS: LifecycleOptions = { agentGraceMs: 10_000, preemptionTimeoutMs: 30_000, helloSettleMs: 3_000, rankFailureGraceMs: 3_000 };

type Event =
  | 'pass'
  /** An agent's hello with the ranks it reports, as "allocation/rank". */
  | ['hello', string, string[]]
  /** A hello that also lists ranks whose exit reports the agent has queued ("allocation/rank"). */
  | ['hello', string, string[], string[]]
  | ['disconnect', string]
  | ['running', string, number]
  | ['exit', string, number, number | null]
  /** A kill of the allocation is requested (persisted): later passes see killRequested. */
  | ['kill-request', string];
type Step = [now: number, event: Event, expected: string[]];

interface Script {
  live: AllocationView[];
  startedAt?: number;
  /** Options other than OPTS's. */
  opts?: Partial<LifecycleOptions>;
  steps: Step[];
}

function alloc(id: string, placement: Record<string, number[]>, over: Partial<AllocationView> = {}): AllocationView {
  const p = Object.entries(placement).map(([agentId, devices]) => ({ agentId, devices }));
  return { id, state: 'RUNNING', placement: p, killRequested: false, preemptRequested: false, ...over };
}
/** One rank on agent a. */
const solo = (over: Partial<AllocationView> = {}) => alloc('X', { a: [0] }, over);
/** Three ranks on two agents: ranks 0 and 1 on a, rank 2 on b. */
const gang = (over: Partial<AllocationView> = {}) => alloc('G', { a: [0, 1], b: [0] }, over);
/** Agents a and b say hello reporting every rank of the gang. */
const gangUp: Step[] = [
  [0, ['hello', 'a', ['G/0', 'G/1']], []],
  [0, ['hello', 'b', ['G/2']], []],
];
/** Passes every `step` ms from `from` to `to`, each with the same expected actions. */
function passes(from: number, to: number, step: number, expected: string[] = []): Step[] {
  const out: Step[] = [];
  for (let t = from; t <= to; t += step) out.push([t, 'pass', expected]);
  return out;
}

function show(a: LifecycleAction): string {
  if (a.kind === 'finish') {
    const o = a.outcome;
    const flags = [`exit ${o.exitCode}`, ...(o.failed ? ['failed'] : []), ...(o.countsAsRestart ? ['restart'] : [])];
    return `finish ${a.allocationId}: ${o.reason} (${flags.join(', ')})`;
  }
  if (a.kind === 'signal') return `signal ${a.signal} ${a.allocationId}${a.agentId ? ` on ${a.agentId}` : ''}`;
  return `${a.kind} ${a.allocationId}`;
}

function play(script: Script): void {
  const opts = { ...OPTS, ...script.opts };
  let obs = initialObservations(script.startedAt ?? 0);
  let live = script.live.map((a) => ({ ...a }));
  const byId = (id: string) => live.find((a) => a.id === id);
  for (const [now, ev, expected] of script.steps) {
    let d: Decision = { obs, actions: [] };
    if (ev === 'pass') d = decideLifecycle(live, obs, opts, now);
    else if (ev[0] === 'hello') {
      const reported = ev[2].map((t) => ({ allocationId: t.split('/')[0]!, rank: Number(t.split('/')[1]) }));
      const exiting = (ev[3] ?? []).map((t) => ({ allocationId: t.split('/')[0]!, rank: Number(t.split('/')[1]) }));
      d = agentHello(obs, ev[1], reported, live, opts, now, exiting);
    } else if (ev[0] === 'disconnect') d = { obs: agentDisconnected(obs, ev[1], now), actions: [] };
    else if (ev[0] === 'running') d = rankRunning(obs, ev[1], ev[2]);
    else if (ev[0] === 'kill-request') {
      const a = byId(ev[1]);
      if (a) a.killRequested = true;
    }
    else {
      // The master drops exits of allocations that are no longer live.
      const a = byId(ev[1]);
      if (a) d = rankExited(obs, a, ev[2], ev[3], opts, now);
    }
    expect(d.actions.map(show), `at ${now}: ${JSON.stringify(ev)}`).toEqual(expected);
    obs = d.obs;
    for (const act of d.actions) {
      const a = byId(act.allocationId);
      if (act.kind === 'finish') {
        obs = allocationEnded(obs, act.allocationId);
        live = live.filter((x) => x.id !== act.allocationId);
      } else if (act.kind === 'requestKill' && a) a.killRequested = true;
      else if (act.kind === 'markRunning' && a?.state === 'ASSIGNED') a.state = 'RUNNING';
    }
  }
}

const LOST = 'finish X: lost (exit null, failed)';
/** The agent came back without the rank and knows no exit of it: it died unseen, a restart is counted. */
const VANISHED = 'finish X: rank 0 vanished: agent a came back without it (exit null, failed, restart)';

describe('lost agents', () => {
  it.each<[string, Script]>([
    [
      'an agent back within the grace period keeps its allocation, over many passes',
      {
        live: [solo()],
        steps: [[0, ['hello', 'a', ['X/0']], []], [1000, ['disconnect', 'a'], []], ...passes(2000, 11_000, 1000), [11_000, ['hello', 'a', ['X/0']], []], ...passes(12_000, 300_000, 7000)],
      },
    ],
    [
      'an agent gone longer than the grace period loses its allocation: failed, no restart counted',
      {
        live: [solo()],
        steps: [
          [0, ['hello', 'a', ['X/0']], []],
          [1000, ['disconnect', 'a'], []],
          [11_000, 'pass', []],
          [11_001, 'pass', [LOST]],
          [20_000, 'pass', []],
          // When it comes back still running the rank, that rank is no longer ours.
          [21_000, ['hello', 'a', ['X/0']], ['signal kill X on a']],
        ],
      },
    ],
    [
      'a kill was requested, then the agent is lost: killed, not failed',
      {
        live: [solo({ killRequested: true })],
        steps: [[0, ['hello', 'a', ['X/0']], []], [0, 'pass', ['signal kill X']], [1000, ['disconnect', 'a'], []], [11_001, 'pass', ['finish X: killed (exit null)']]],
      },
    ],
    [
      'an agent never seen since the master started counts as gone since startedAt',
      { live: [solo()], startedAt: 50_000, steps: [[50_000, 'pass', []], [60_000, 'pass', []], [60_001, 'pass', [LOST]]] },
    ],
    [
      'one agent of a gang never comes back: the whole gang is lost',
      {
        live: [gang()],
        steps: [[0, ['hello', 'a', ['G/0', 'G/1']], []], [10_000, 'pass', []], [10_001, 'pass', ['finish G: lost (exit null, failed)']]],
      },
    ],
  ])('%s', (_name, script) => play(script));
});

describe('preemption', () => {
  const R = 1_000_000;
  it.each<[string, Script]>([
    [
      'notified on every pass; a kill is requested only after preemptionTimeoutMs, and signalled once',
      {
        live: [solo({ preemptRequested: true })],
        steps: [
          [0, ['hello', 'a', ['X/0']], []],
          [0, 'pass', ['notifyPreempt X']],
          [10_000, 'pass', ['notifyPreempt X']],
          [30_000, 'pass', ['notifyPreempt X']],
          [30_001, 'pass', ['notifyPreempt X', 'requestKill X']],
          // The kill request is persisted: from now on the allocation is being killed, not preempted.
          [30_100, 'pass', ['signal kill X']],
          ...passes(31_000, 300_000, 10_000),
          [300_001, ['exit', 'X', 0, null], ['finish X: killed (exit null)']],
        ],
      },
    ],
    [
      'a preemption whose kill is already requested does not time out again',
      { live: [solo({ preemptRequested: true, killRequested: true })], steps: [[0, ['hello', 'a', ['X/0']], []], [0, 'pass', ['signal kill X']], ...passes(10_000, 300_000, 10_000)] },
    ],
    [
      'master restarted mid-preemption: the timeout counts from the restart',
      {
        // The database says the preemption was requested (long before the restart); this master first sees it now.
        live: [solo({ preemptRequested: true })],
        startedAt: R,
        steps: [
          [R, ['hello', 'a', ['X/0']], []],
          [R, 'pass', ['notifyPreempt X']],
          [R + 1, 'pass', ['notifyPreempt X']],
          [R + 30_000, 'pass', ['notifyPreempt X']],
          [R + 30_001, 'pass', ['notifyPreempt X', 'requestKill X']],
        ],
      },
    ],
  ])('%s', (_name, script) => play(script));
});

describe('rank exits of a gang (3 ranks on 2 agents)', () => {
  it.each<[string, Script]>([
    ['one rank exits 0: nothing happens yet', { live: [gang()], steps: [...gangUp, [100, ['exit', 'G', 1, 0], []], ...passes(200, 60_000, 7000)] }],
    [
      // The usual sequence: the ring tells the other ranks, which exit on their own (saying why) before any kill.
      'one rank fails and the others exit on their own: no kill; the outcome names the rank that failed first',
      {
        live: [gang()],
        steps: [
          ...gangUp,
          [100, ['exit', 'G', 1, 3], []],
          [150, ['exit', 'G', 0, 1], []],
          [160, ['exit', 'G', 2, 1], ['finish G: rank 1 exited with 3 (exit 3, failed, restart)']],
        ],
      },
    ],
    [
      'one rank fails: the ranks still running rankFailureGraceMs later are killed, once; when all have exited the outcome names the failed rank',
      {
        live: [gang()],
        steps: [
          ...gangUp,
          [100, ['exit', 'G', 1, 3], []],
          ...passes(200, 3000, 200),
          [3050, ['exit', 'G', 0, 1], []],
          [3100, 'pass', ['signal kill G']],
          ...passes(3200, 5000, 200),
          [5100, ['exit', 'G', 2, null], ['finish G: rank 1 exited with 3 (exit 3, failed, restart)']],
        ],
      },
    ],
    [
      // A second failure does not restart the grace: it counts from the first.
      'a second rank failing during the grace period does not put the kill off',
      {
        live: [gang()],
        steps: [...gangUp, [100, ['exit', 'G', 1, 3], []], [2000, ['exit', 'G', 0, 1], []], [3099, 'pass', []], [3100, 'pass', ['signal kill G']]],
      },
    ],
    [
      'a kill requested during the grace period is signalled at once',
      {
        live: [gang()],
        steps: [
          ...gangUp,
          [100, ['exit', 'G', 1, 3], []],
          [500, ['kill-request', 'G'], []],
          [600, 'pass', ['signal kill G']],
          [700, ['exit', 'G', 0, null], []],
          [800, ['exit', 'G', 2, null], ['finish G: killed (exit 3)']],
        ],
      },
    ],
    [
      'with no grace period a failed rank gets the others killed at once',
      {
        live: [gang()],
        opts: { rankFailureGraceMs: 0 },
        steps: [
          ...gangUp,
          [100, ['exit', 'G', 1, 3], ['signal kill G']],
          [150, ['exit', 'G', 0, null], []],
          [160, ['exit', 'G', 2, null], ['finish G: rank 1 exited with 3 (exit 3, failed, restart)']],
        ],
      },
    ],
    [
      'every rank exits 0: exited',
      { live: [gang()], steps: [...gangUp, [100, ['exit', 'G', 0, 0], []], [110, ['exit', 'G', 2, 0], []], [120, ['exit', 'G', 1, 0], ['finish G: exited (exit 0)']]] },
    ],
    [
      'preempted, then every rank checkpoints and exits 0: preempted, not failed',
      {
        live: [gang({ preemptRequested: true })],
        steps: [
          ...gangUp,
          [0, 'pass', ['notifyPreempt G']],
          [100, ['exit', 'G', 0, 0], ['notifyPreempt G']],
          [110, ['exit', 'G', 1, 0], ['notifyPreempt G']],
          [120, ['exit', 'G', 2, 0], ['finish G: preempted (exit 0)']],
        ],
      },
    ],
    [
      'a kill was requested: ranks ending by the signal end the allocation as killed, not failed',
      {
        live: [gang({ killRequested: true })],
        steps: [
          ...gangUp,
          [0, 'pass', ['signal kill G']],
          [100, ['exit', 'G', 0, null], []],
          [100, ['exit', 'G', 1, null], []],
          [100, ['exit', 'G', 2, 137], ['finish G: killed (exit null)']],
        ],
      },
    ],
    [
      'a rank killed by a signal (exit null) fails the allocation "with a signal"',
      { live: [solo()], steps: [[0, ['hello', 'a', ['X/0']], []], [100, ['exit', 'X', 0, null], ['finish X: rank 0 exited with a signal (exit null, failed, restart)']]] },
    ],
  ])('%s', (_name, script) => play(script));
});

describe("an agent's hello", () => {
  it.each<[string, Script]>([
    [
      'tasks that are not live, or not placed on the reporting agent, are killed on that agent only',
      {
        live: [solo()],
        steps: [[0, ['hello', 'a', ['X/0', 'Z/0']], ['signal kill Z on a']], [0, ['hello', 'b', ['X/0']], ['signal kill X on b']], ...passes(1000, 20_000, 1000)],
      },
    ],
    ['reported ranks of an ASSIGNED allocation mark it running', { live: [solo({ state: 'ASSIGNED' })], steps: [[0, ['hello', 'a', ['X/0']], ['markRunning X']], ...passes(1000, 20_000, 1000)] }],
    [
      'a placed rank not reported while still ASSIGNED (its startTask was lost) is relaunched after helloSettleMs, once',
      { live: [solo({ state: 'ASSIGNED' })], steps: [[1000, ['hello', 'a', []], []], [3999, 'pass', []], [4000, 'pass', ['relaunch X']], ...passes(4001, 30_000, 1000)] },
    ],
    [
      'an unreported ASSIGNED rank whose kill was requested is not relaunched: it ends as killed',
      {
        live: [solo({ state: 'ASSIGNED', killRequested: true })],
        steps: [[1000, ['hello', 'a', []], []], [1000, 'pass', ['signal kill X']], [4000, 'pass', ['finish X: killed (exit null)']]],
      },
    ],
    ['a placed RUNNING rank not reported died unseen: after helloSettleMs it fails, counting a restart', { live: [solo()], steps: [[1000, ['hello', 'a', []], []], [3999, 'pass', []], [4000, 'pass', [VANISHED]]] }],
    [
      'a rank the hello lists as exiting is waited for: its queued exit decides, however late',
      { live: [solo()], steps: [[1000, ['hello', 'a', [], ['X/0']], []], ...passes(2000, 60_000, 1000), [61_000, ['exit', 'X', 0, 137], ['finish X: rank 0 exited with 137 (exit 137, failed, restart)']]] },
    ],
    [
      "the unreported rank's exit is replayed before the check: it ends by its exit, neither relaunched nor lost",
      { live: [solo()], steps: [[1000, ['hello', 'a', []], []], [1100, ['exit', 'X', 0, 0], ['finish X: exited (exit 0)']], ...passes(4000, 10_000, 1000)] },
    ],
    [
      'exits replayed for every unreported rank of a gang on that agent: nothing is lost, the gang goes on',
      {
        live: [gang()],
        steps: [
          [0, ['hello', 'b', ['G/2']], []],
          [0, ['hello', 'a', []], []],
          [50, ['exit', 'G', 0, 0], []],
          [60, ['exit', 'G', 1, 0], []],
          ...passes(3000, 10_000, 1000),
          [11_000, ['exit', 'G', 2, 0], ['finish G: exited (exit 0)']],
        ],
      },
    ],
    [
      'an agent that restarted and reports nothing: its previously running rank died, not left RUNNING forever',
      {
        live: [solo()],
        steps: [
          [0, ['running', 'X', 0], ['markRunning X']],
          [500, ['hello', 'a', ['X/0']], []],
          [1000, ['disconnect', 'a'], []],
          [2000, ['hello', 'a', []], []],
          [4999, 'pass', []],
          [5000, 'pass', [VANISHED]],
          ...passes(10_000, 100_000, 10_000),
        ],
      },
    ],
  ])('%s', (_name, script) => play(script));
});

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

describe('purity', () => {
  // Live allocations that exercise every rule in one pass at t = 40 s.
  const live: AllocationView[] = [
    alloc('lost', { gone: [0] }),
    alloc('preempt', { a: [0] }, { preemptRequested: true }),
    alloc('kill', { a: [1] }, { killRequested: true }),
    alloc('done', { a: [2, 3] }),
    alloc('failing', { a: [4, 5] }),
    alloc('never-started', { h: [0] }, { state: 'ASSIGNED' }),
    alloc('vanished', { h: [1] }),
  ];
  function busyObservations(): Observations {
    let obs = initialObservations(0);
    const report = ['preempt/0', 'kill/0', 'done/0', 'done/1', 'failing/0', 'failing/1'].map((t) => ({ allocationId: t.split('/')[0]!, rank: Number(t.split('/')[1]) }));
    obs = agentHello(obs, 'a', report, live, OPTS, 0).obs;
    obs = rankRunning(obs, 'vanished', 0).obs;
    obs = agentHello(obs, 'h', [], live, OPTS, 0).obs;
    obs = agentDisconnected(obs, 'b', 0);
    obs = decideLifecycle(live, obs, OPTS, 0).obs;
    obs = rankExited(obs, live[4]!, 1, 2, OPTS, 10).obs;
    return { ...obs, ranks: { ...obs.ranks, done: { 0: { exit: 0, seq: 90 }, 1: { exit: 0, seq: 91 } } } };
  }

  it('decideLifecycle never changes the observations it is given', () => {
    const obs = busyObservations();
    const before = structuredClone(obs);
    // Frozen, so that any write throws (ES modules are strict).
    const d = decideLifecycle(live, deepFreeze(obs), OPTS, 40_000);
    expect(obs).toEqual(before);
    expect(d.actions.map(show)).toEqual(
      expect.arrayContaining([
        'finish lost: lost (exit null, failed)',
        'notifyPreempt preempt',
        'requestKill preempt',
        'finish done: exited (exit 0)',
        'relaunch never-started',
        'finish vanished: rank 0 vanished: agent h came back without it (exit null, failed, restart)',
      ]),
    );
    expect(d.obs).not.toEqual(before);
  });

  it('neither do the event functions', () => {
    const obs = deepFreeze(busyObservations());
    const before = structuredClone(obs);
    agentHello(obs, 'a', [], live, OPTS, 50_000);
    agentHello(obs, 'b', [{ allocationId: 'zzz', rank: 0 }], live, OPTS, 50_000);
    rankRunning(obs, 'preempt', 0);
    rankExited(obs, live[1]!, 0, 0, OPTS, 50_000);
    rankExited(obs, live[3]!, 0, 1, OPTS, 50_000);
    agentDisconnected(obs, 'a', 50_000);
    allocationEnded(obs, 'failing');
    expect(obs).toEqual(before);
  });
});

describe('ranksOf and outcomeOfExits', () => {
  it('numbers ranks in placement order, one per device', () => {
    expect(ranksOf([{ agentId: 'a', devices: [3, 5] }, { agentId: 'b', devices: [0] }])).toEqual([
      { agentId: 'a', rank: 0, device: 3 },
      { agentId: 'a', rank: 1, device: 5 },
      { agentId: 'b', rank: 2, device: 0 },
    ]);
    expect(ranksOf(null)).toEqual([]);
  });

  it.each<[string, Partial<AllocationView>, Array<[number, number | null]>, string]>([
    ['all 0', {}, [[0, 0], [1, 0]], 'exited (exit 0)'],
    ['one failed', {}, [[0, 0], [1, 9]], 'rank 1 exited with 9 (exit 9, failed, restart)'],
    ['signal', {}, [[0, null]], 'rank 0 exited with a signal (exit null, failed, restart)'],
    ['preempted', { preemptRequested: true }, [[0, 0]], 'preempted (exit 0)'],
    ['preempted but crashed', { preemptRequested: true }, [[0, 1]], 'rank 0 exited with 1 (exit 1, failed, restart)'],
    ['killed', { killRequested: true, preemptRequested: true }, [[0, 137]], 'killed (exit 137)'],
  ])('%s', (_name, over, exits, expected) => {
    const outcome = outcomeOfExits(solo(over), exits);
    expect(show({ kind: 'finish', allocationId: 'X', outcome })).toBe(`finish X: ${expected}`);
  });
});
