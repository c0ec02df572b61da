// One rank of the all-reduce benchmark. The parent (main.ts) is the rendezvous over the IPC channel and collects
// rank 0's timings:  parent → child { type: 'addresses', addresses };  child → parent { type: 'address' | 'result' }.
import { connectRing } from '../../harness/src/distributed/setup';
import { ringKey } from '../../harness/src/distributed/ringAuth';

const rank = Number(process.argv[2]);
const size = Number(process.argv[3]);
const plan = JSON.parse(process.argv[4]) as { bytes: number; warmup: number; iters: number }[];

const send = (message: unknown): Promise<void> => new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));

const comm = await connectRing({
  rank,
  key: ringKey('bench'),
  size,
  timeoutMs: 60_000,
  exchange: (address) =>
    new Promise((resolve) => {
      process.on('message', (m: { type: string; addresses: string[] }) => {
        if (m.type === 'addresses') resolve(m.addresses);
      });
      void send({ type: 'address', address });
    }),
});

for (const { bytes, warmup, iters } of plan) {
  const data = new Float32Array(bytes / 4);
  for (let i = 0; i < data.length; i++) data[i] = (i % 1000) / 1000 + rank;
  const times: number[] = [];
  for (let i = 0; i < warmup + iters; i++) {
    await comm.barrier();
    const t0 = performance.now();
    await comm.allreduce(data, 'mean');
    const ms = performance.now() - t0;
    if (i >= warmup) times.push(ms);
  }
  // The slowest rank decides when an all-reduce is done everywhere.
  const all = await comm.allgather(times);
  if (rank === 0) await send({ type: 'result', bytes, times: times.map((_, i) => Math.max(...all.map((t) => t[i]))) });
}
await comm.close();
process.disconnect();
