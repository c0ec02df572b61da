// Data-parallel training throughput: the Trial API loop on an MLP of ~100k parameters (256→256→128→10) over
// synthetic data, as real rank processes on localhost joined by the ring all-reduce.
//
//   1 rank:      one process alone, per-rank batch B.
//   2 ranks:     one trial on two processes, global batch 2B (B per rank), gradients averaged every step.
//   2 × 1 rank:  two independent one-rank processes at the same time (the same CPU contention as 2 ranks, no
//                communication): the baseline for the scaling efficiency.
//
// scaling_efficiency_n2 = samples/s of 2 ranks ÷ summed samples/s of 2 × 1 rank (target ≥ 0.8). The machine may be
// shared, so the three set-ups are measured in interleaved rounds and each figure is the median over rounds.
// Last line: one JSON object of the figures.
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RankPlan, RankResult } from './rank';

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PLAN: RankPlan = {
  perRankBatch: Number(process.env.BENCH_BATCH ?? 128),
  warmup: 20,
  steps: Number(process.env.BENCH_STEPS ?? 150),
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Starts one trial of `size` ranks; resolves to every rank's result. */
function trial(size: number): Promise<RankResult[]> {
  const addresses: string[] = [];
  const results: RankResult[] = [];
  const children = Array.from({ length: size }, (_, rank) =>
    fork(here('./rank.ts'), [String(rank), String(size), JSON.stringify(PLAN)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  return Promise.all(
    children.map(
      (child, rank) =>
        new Promise<void>((resolve, reject) => {
          child.on('message', (m: { type: string; address?: string } | RankResult) => {
            if (m.type === 'address') {
              addresses[rank] = (m as { address: string }).address;
              if (addresses.filter(Boolean).length === size) for (const c of children) c.send({ type: 'addresses', addresses });
            } else if (m.type === 'result') {
              results[rank] = m as RankResult;
            }
          });
          child.on('exit', (code) => (code === 0 && results[rank] ? resolve() : reject(new Error(`rank ${rank} of ${size} exited with ${code}`))));
        }),
    ),
  ).then(() => results);
}

/** Samples per second of one trial: its global batches over the slowest rank's time (ranks step together). */
const throughput = (ranks: RankResult[]): number => (PLAN.perRankBatch * ranks.length * PLAN.steps) / (Math.max(...ranks.map((r) => r.ms)) / 1000);

const rounds: Array<{ one: number; two: number; twoSingles: number }> = [];
let info: RankResult | undefined;
console.log(
  `data-parallel MLP 256→256→128→10, per-rank batch ${PLAN.perRankBatch}, ${PLAN.steps} measured steps after ${PLAN.warmup} warm-up; ` +
    `${ROUNDS} rounds; ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}`,
);
for (let r = 0; r < ROUNDS; r++) {
  const oneRanks = await trial(1);
  info = oneRanks[0];
  const one = throughput(oneRanks);
  const two = throughput(await trial(2));
  const pair = await Promise.all([trial(1), trial(1)]);
  const twoSingles = pair.map(throughput).reduce((a, b) => a + b, 0);
  rounds.push({ one, two, twoSingles });
  console.log(
    `round ${r + 1}: 1 rank ${one.toFixed(0)} samples/s; 2 ranks ${two.toFixed(0)} samples/s; 2 × 1 rank ${twoSingles.toFixed(0)} samples/s; ` +
      `efficiency ${(two / twoSingles).toFixed(3)}`,
  );
}

const one = median(rounds.map((x) => x.one));
const two = median(rounds.map((x) => x.two));
const twoSingles = median(rounds.map((x) => x.twoSingles));
const efficiency = median(rounds.map((x) => x.two / x.twoSingles));
console.log(`\nmodel: ${info!.params} parameters, backend ${info!.backend}`);
console.log(`samples/s: 1 rank ${one.toFixed(0)}, 2 ranks ${two.toFixed(0)}, 2 × 1 rank ${twoSingles.toFixed(0)} (speed-up over 1 rank ${(two / one).toFixed(2)})`);
console.log(`scaling efficiency (2 ranks ÷ 2 × 1 rank), median of rounds: ${efficiency.toFixed(3)} (target ≥ 0.8)`);
console.log(
  JSON.stringify({
    scaling_efficiency_n2: +efficiency.toFixed(3),
    samples_per_s_1rank: +one.toFixed(1),
    samples_per_s_2rank: +two.toFixed(1),
    samples_per_s_2x1rank: +twoSingles.toFixed(1),
    speedup_n2: +(two / one).toFixed(3),
    params: info!.params,
    per_rank_batch: PLAN.perRankBatch,
    backend: info!.backend,
    rounds: ROUNDS,
  }),
);
