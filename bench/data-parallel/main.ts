// Data-parallel training throughput: the Trial API loop (runTrial) on an MLP of ~100k parameters (256→256→128→10)
// over synthetic data, as real rank processes on localhost joined by the ring all-reduce.
//
//   1 rank:      one process alone, per-rank batch B.
//   2 ranks:     one trial on two processes, global batch 2B (B per rank), gradients averaged every step.
//   2 × 1 rank:  two independent one-rank processes at the same time (the same CPU demand as 2 ranks, no
//                communication): the baseline for the scaling efficiency. Each one's rate is taken over the window
//                in which both were running: once one finishes its batches, the other has the machine to itself,
//                which is not "at the same time" (and would flatter the baseline).
//
// scaling_efficiency_n2 = samples/s of 2 ranks ÷ summed samples/s of 2 × 1 rank (target ≥ 0.8).
//
// The machine may be shared and its load drifts, and starting a process (tsx, TensorFlow.js) takes seconds; so all
// four processes start once, warm up, and then take turns in short phases of a few hundred milliseconds to seconds
// (1 rank, 2 ranks, 2 × 1 rank, in rotating order, one set-up running at a time). Each round's ratio compares
// set-ups measured seconds apart; the figures are medians over rounds. CPU time per sample is reported too: it
// does not depend on how much of the machine other work takes.
// Last line: one JSON object of the figures.
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RankMessage, RankPlan } from './rank';

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const BATCH = Number(process.env.BENCH_BATCH ?? 128);
const PHASE_STEPS = Number(process.env.BENCH_PHASE_STEPS ?? 40);
const WARMUP = 20;
/** Extra node flags for the rank processes, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A rank process and the messages it sent that nobody has taken yet. */
class Rank {
  readonly child: ChildProcess;
  private readonly queue: RankMessage[] = [];
  private waiter: (() => void) | null = null;
  private exited: string | null = null;

  constructor(
    readonly label: string,
    rank: number,
    size: number,
    phases: number,
  ) {
    const plan: RankPlan = { perRankBatch: BATCH, warmup: WARMUP, phaseSteps: PHASE_STEPS, phases };
    this.child = fork(here('./rank.ts'), [String(rank), String(size), JSON.stringify(plan)], { execArgv: ['--import', 'tsx', ...NODE_ARGS], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: RankMessage) => {
      this.queue.push(m);
      this.waiter?.();
    });
    this.child.on('exit', (code) => {
      this.exited = `${label} exited with ${code}`;
      this.waiter?.();
    });
  }

  async next<T extends RankMessage['type']>(type: T): Promise<Extract<RankMessage, { type: T }>> {
    for (;;) {
      const i = this.queue.findIndex((m) => m.type === type);
      if (i >= 0) return this.queue.splice(i, 1)[0] as Extract<RankMessage, { type: T }>;
      if (this.exited) throw new Error(`${this.exited} while waiting for "${type}"`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  send(message: unknown): void {
    this.child.send(message as never);
  }
}

/** Starts a trial of `ranks.length` ranks: relays addresses between them (the master's rendezvous). */
async function rendezvous(ranks: Rank[]): Promise<void> {
  if (ranks.length === 1) return;
  const addresses = await Promise.all(ranks.map(async (r) => (await r.next('address')).address));
  for (const r of ranks) r.send({ type: 'addresses', addresses });
}

type Setup = 'one' | 'two' | 'pair';

// C is the lone rank in "1 rank" phases and one of the two in "2 × 1 rank" phases.
const two = [new Rank('2-rank trial, rank 0', 0, 2, ROUNDS), new Rank('2-rank trial, rank 1', 1, 2, ROUNDS)];
const c = new Rank('single C', 0, 1, 2 * ROUNDS);
const d = new Rank('single D', 0, 1, ROUNDS);
const all = [...two, c, d];
await rendezvous(two);
const ready = await Promise.all(all.map((r) => r.next('ready')));
const members: Record<Setup, Rank[]> = { one: [c], two, pair: [c, d] };

interface Measure {
  samplesPerS: number;
  cpuMsPerSample: number;
}

/** Batches a process had done at time `t` (linear between batch ends; 0 at its start). */
function batchesDone(r: { startedAt: number; batchEnds: number[] }, t: number): number {
  let prevT = r.startedAt;
  for (let i = 0; i < r.batchEnds.length; i++) {
    const end = r.batchEnds[i]!;
    if (t <= end) return i + Math.max(0, (t - prevT) / Math.max(end - prevT, 1e-9));
    prevT = end;
  }
  return r.batchEnds.length;
}

async function phase(setup: Setup): Promise<Measure> {
  const ranks = members[setup];
  for (const r of ranks) r.send({ type: 'go' });
  const results = await Promise.all(ranks.map((r) => r.next('phase')));
  const samplesEach = BATCH * PHASE_STEPS;
  const cpuMs = results.reduce((a, r) => a + r.cpuMs, 0);
  // The ranks of one trial step together: the trial's rate is its global batches over the slowest rank's time.
  // Independent processes each have their own rate while both run, and the baseline is their sum.
  let samplesPerS: number;
  if (setup === 'two') {
    samplesPerS = (samplesEach * ranks.length) / (Math.max(...results.map((r) => r.ms)) / 1000);
  } else {
    const from = Math.max(...results.map((r) => r.startedAt));
    const to = Math.min(...results.map((r) => r.batchEnds[r.batchEnds.length - 1]!));
    samplesPerS = results.reduce((a, r) => a + (BATCH * (batchesDone(r, to) - batchesDone(r, from))) / ((to - from) / 1000), 0);
  }
  return { samplesPerS, cpuMsPerSample: cpuMs / (samplesEach * ranks.length) };
}

console.log(
  `data-parallel MLP 256→256→128→10 (${ready[0]!.params} parameters, backend ${ready[0]!.backend}), per-rank batch ${BATCH}, ` +
    `${ROUNDS} rounds of ${PHASE_STEPS}-batch phases; ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}`,
);
const rounds: Array<Record<Setup, Measure>> = [];
const order: Setup[] = ['one', 'two', 'pair'];
for (let r = 0; r < ROUNDS; r++) {
  const round = {} as Record<Setup, Measure>;
  for (let k = 0; k < order.length; k++) {
    const setup = order[(r + k) % order.length]!;
    round[setup] = await phase(setup);
  }
  rounds.push(round);
  console.log(
    `round ${String(r + 1).padStart(2)}: 1 rank ${round.one.samplesPerS.toFixed(0).padStart(6)} samples/s; ` +
      `2 ranks ${round.two.samplesPerS.toFixed(0).padStart(6)}; 2 × 1 rank ${round.pair.samplesPerS.toFixed(0).padStart(6)}; ` +
      `efficiency ${(round.two.samplesPerS / round.pair.samplesPerS).toFixed(3)}`,
  );
}
await Promise.all(all.map((r) => r.next('done')));

const med = (setup: Setup, key: keyof Measure) => median(rounds.map((x) => x[setup][key]));
const one = med('one', 'samplesPerS');
const twoRanks = med('two', 'samplesPerS');
const pair = med('pair', 'samplesPerS');
const efficiency = median(rounds.map((x) => x.two.samplesPerS / x.pair.samplesPerS));
const cpuEfficiency = median(rounds.map((x) => x.pair.cpuMsPerSample / x.two.cpuMsPerSample));
console.log(`\nsamples/s (median): 1 rank ${one.toFixed(0)}, 2 ranks ${twoRanks.toFixed(0)}, 2 × 1 rank ${pair.toFixed(0)}; speed-up of 2 ranks over 1: ${(twoRanks / one).toFixed(2)}`);
console.log(
  `CPU ms per sample (median): 1 rank ${med('one', 'cpuMsPerSample').toFixed(3)}, 2 ranks ${med('two', 'cpuMsPerSample').toFixed(3)}, ` +
    `2 × 1 rank ${med('pair', 'cpuMsPerSample').toFixed(3)}; CPU efficiency (2 × 1 rank ÷ 2 ranks) ${cpuEfficiency.toFixed(3)}`,
);
console.log(`scaling efficiency (2 ranks ÷ 2 × 1 rank, median of per-round ratios): ${efficiency.toFixed(3)} (target ≥ 0.8)`);
console.log(
  JSON.stringify({
    scaling_efficiency_n2: +efficiency.toFixed(3),
    samples_per_s_1rank: +one.toFixed(1),
    samples_per_s_2rank: +twoRanks.toFixed(1),
    samples_per_s_2x1rank: +pair.toFixed(1),
    speedup_n2: +(twoRanks / one).toFixed(3),
    cpu_efficiency_n2: +cpuEfficiency.toFixed(3),
    params: ready[0]!.params,
    per_rank_batch: BATCH,
    backend: ready[0]!.backend,
    rounds: ROUNDS,
  }),
);
