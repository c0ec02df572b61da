// All-reduce benchmark: N = 2 and 4 rank processes on localhost, sizes 4 KB … 100 MB, against one plain TCP stream
// between two Node processes measured in the same run.
//
// Per size: median latency (the slowest rank's time per all-reduce), algbw = bytes / time, and
// busbw = algbw × 2(N−1)/N (NCCL's bus bandwidth: what each rank's link carries), with busbw / single-stream.
// Last line: one JSON object of the figures.
import { execFileSync, fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Run as TypeScript (npm run bench:allreduce) or as an esbuild bundle of .mjs files on a machine without tsx.
const bundled = !import.meta.url.endsWith('.ts');
const here = (f: string): string => fileURLToPath(new URL(bundled ? f.replace(/\.ts$/, '.mjs') : f, import.meta.url));
const execArgv = bundled ? [] : ['--import', 'tsx'];
const KB = 1024;
const MB = 1024 * 1024;
const PLAN = [
  { bytes: 4 * KB, warmup: 50, iters: 400, label: '4KB' },
  { bytes: 64 * KB, warmup: 20, iters: 200, label: '64KB' },
  { bytes: 1 * MB, warmup: 5, iters: 40, label: '1MB' },
  { bytes: 25 * MB, warmup: 2, iters: 10, label: '25MB' },
  { bytes: 100 * MB, warmup: 1, iters: 4, label: '100MB' },
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function singleStream(): Promise<{ gbps: number; rttUs: number }> {
  const receiver = spawn(process.execPath, [...execArgv, here('./stream.ts'), 'receiver'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => receiver.stdout.once('data', (b: Buffer) => resolve(b.toString().trim())));
  const out = execFileSync(process.execPath, [...execArgv, here('./stream.ts'), 'sender', port, String(100 * MB), '5', '300'], {
    encoding: 'utf8',
  });
  receiver.kill();
  const { gbps, rttUs } = JSON.parse(out.trim().split('\n').pop()!) as { gbps: number[]; rttUs: number[] };
  return { gbps: median(gbps.slice(1)), rttUs: median(rttUs.slice(50)) };
}

async function allreduce(size: number): Promise<Map<number, number[]>> {
  const addresses: string[] = [];
  const results = new Map<number, number[]>();
  const plan = JSON.stringify(PLAN.map(({ bytes, warmup, iters }) => ({ bytes, warmup, iters })));
  const children = Array.from({ length: size }, (_, rank) =>
    fork(here('./rank.ts'), [String(rank), String(size), plan], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  await Promise.all(
    children.map(
      (child, rank) =>
        new Promise<void>((resolve, reject) => {
          child.on('message', (m: { type: string; address?: string; bytes?: number; times?: number[] }) => {
            if (m.type === 'address') {
              addresses[rank] = m.address!;
              if (addresses.filter(Boolean).length === size) for (const c of children) c.send({ type: 'addresses', addresses });
            } else if (m.type === 'result') {
              results.set(m.bytes!, m.times!);
            }
          });
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rank ${rank} exited with ${code}`))));
        }),
    ),
  );
  return results;
}

const fmtBw = (bytesPerS: number): string => `${(bytesPerS / 1e9).toFixed(2)} GB/s`;

// The machine is shared, so its load drifts: the baseline is measured before, between and after the two all-reduce
// runs, and each run is compared with the mean of the baselines taken just before and just after it.
const streams = [await singleStream()];
const runs: { n: number; results: Map<number, number[]> }[] = [];
for (const n of [2, 4]) {
  runs.push({ n, results: await allreduce(n) });
  streams.push(await singleStream());
}
const baselineGbps = median(streams.map((s) => s.gbps));
const rttUs = median(streams.map((s) => s.rttUs));
console.log(
  `single TCP stream between two Node processes: ${streams.map((s) => s.gbps.toFixed(2)).join(' / ')} GB/s (before / between / after); ` +
    `4 KB ping-pong round trip ${(rttUs / 1000).toFixed(3)} ms`,
);
const figures: Record<string, number> = {
  single_stream_gbps: +baselineGbps.toFixed(3),
  pingpong_rtt_ms_4kb: +(rttUs / 1000).toFixed(4),
};
runs.forEach(({ n, results }, k) => {
  const streamGbps = (streams[k].gbps + streams[k + 1].gbps) / 2;
  console.log(`\nN = ${n} (baseline around this run: ${streamGbps.toFixed(2)} GB/s)`);
  console.log('size      median ms    algbw        busbw        busbw/stream');
  for (const { bytes, label } of PLAN) {
    const ms = median(results.get(bytes)!);
    const algbw = bytes / (ms / 1000);
    const busbw = (algbw * 2 * (n - 1)) / n;
    const ratio = busbw / 1e9 / streamGbps;
    console.log(`${label.padEnd(9)} ${ms.toFixed(3).padStart(9)}    ${fmtBw(algbw).padEnd(12)} ${fmtBw(busbw).padEnd(12)} ${ratio.toFixed(2)}`);
    const key = label.toLowerCase();
    figures[`latency_ms_${key}_n${n}`] = +ms.toFixed(4);
    figures[`busbw_gbps_${key}_n${n}`] = +(busbw / 1e9).toFixed(3);
    figures[`busbw_ratio_n${n}_${key}`] = +ratio.toFixed(3);
  }
});
console.log(`\ntargets: busbw_ratio_n2_25mb ≥ 0.5 (got ${figures.busbw_ratio_n2_25mb}); latency_ms_4kb_n2 ≤ 1 (got ${figures.latency_ms_4kb_n2})`);
console.log(JSON.stringify(figures));
