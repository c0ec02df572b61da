// A rank in its own process, for the multi-process tests. The parent (over the IPC channel of `fork`) acts as the
// rendezvous and gives the scenario; the child reports its results as messages.
//
//   parent → child: { type: 'addresses', addresses }
//   child → parent: { type: 'address', address } | { type: 'result', ... } | { type: 'error', message, ms } | { type: 'failure', message }
import { connectRing } from './setup';
import { inputFor, TEST_RING_KEY } from './testRing';

const [rankArg, sizeArg, scenario] = process.argv.slice(2);
const rank = Number(rankArg);
const size = Number(sizeArg);
const send = (message: unknown): Promise<void> =>
  new Promise((resolve) => {
    process.send!(message, undefined, {}, () => resolve());
  });

const exchange = (address: string): Promise<string[]> =>
  new Promise((resolve) => {
    process.on('message', (m: { type: string; addresses: string[] }) => {
      if (m.type === 'addresses') resolve(m.addresses);
    });
    void send({ type: 'address', address });
  });

const comm = await connectRing({ rank, size, exchange, key: TEST_RING_KEY, timeoutMs: 20_000, onFailure: (e) => void send({ type: 'failure', message: String(e) }) });

if (scenario === 'allreduce') {
  const result = await comm.allreduce(inputFor(rank, 100_003), 'sum');
  const gathered = await comm.allgather({ rank, pid: process.pid });
  await send({ type: 'result', bytes: Buffer.from(result.buffer, result.byteOffset, result.byteLength).toString('base64'), gathered });
  await comm.close();
  process.disconnect();
} else if (scenario === 'loop') {
  // All-reduce until something fails; the parent kills one rank meanwhile.
  await send({ type: 'ready' });
  let started = Date.now();
  try {
    for (;;) {
      started = Date.now();
      await comm.allreduce(inputFor(rank, 50_000));
    }
  } catch (e) {
    await send({ type: 'error', message: String(e), ms: Date.now() - started });
    await new Promise((r) => setTimeout(r, 100)); // let the failure message go too
  }
  process.disconnect();
}
