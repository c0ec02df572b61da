// Ranks as real processes (`node --import tsx`), as the agent launches them.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { inputFor } from './testRing';

const worker = fileURLToPath(new URL('./testRankProcess.ts', import.meta.url));
let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  children = [];
});

type Message = { type: string; [k: string]: unknown };

/** Starts `size` ranks; the parent is their rendezvous. Returns each rank's messages as they come. */
function launch(size: number, scenario: string): { inbox: Message[][]; waitFor: (rank: number, type: string) => Promise<Message> } {
  const inbox: Message[][] = Array.from({ length: size }, () => []);
  const wakers: (() => void)[] = [];
  const addresses: string[] = [];
  children = Array.from({ length: size }, (_, rank) => {
    const child = fork(worker, [String(rank), String(size), scenario], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m: Message) => {
      if (m.type === 'address') {
        addresses[rank] = m.address as string;
        if (addresses.filter(Boolean).length === size) for (const c of children) c.send({ type: 'addresses', addresses });
      }
      inbox[rank].push(m);
      for (const w of wakers.splice(0)) w();
    });
    return child;
  });
  const waitFor = async (rank: number, type: string): Promise<Message> => {
    for (;;) {
      const m = inbox[rank].find((x) => x.type === type);
      if (m) return m;
      await new Promise<void>((r) => wakers.push(r));
    }
  };
  return { inbox, waitFor };
}

describe('ring across processes', () => {
  it('three processes all-reduce to bit-identical sums', async () => {
    const { waitFor } = launch(3, 'allreduce');
    const results = await Promise.all([0, 1, 2].map((r) => waitFor(r, 'result')));
    const expected = new Float64Array(100_003);
    for (let r = 0; r < 3; r++) {
      const x = inputFor(r, expected.length);
      for (let i = 0; i < x.length; i++) expected[i] += x[i];
    }
    const sum = new Float32Array(new Uint8Array(Buffer.from(results[0].bytes as string, 'base64')).buffer);
    for (let i = 0; i < sum.length; i += 997) expect(sum[i]).toBeCloseTo(expected[i], 4);
    for (const r of results) expect(r.bytes).toBe(results[0].bytes);
    expect((results[1].gathered as { rank: number }[]).map((g) => g.rank)).toEqual([0, 1, 2]);
  }, 60_000);

  it('a killed rank makes every other rank fail within a few seconds, naming it', async () => {
    const { waitFor, inbox } = launch(4, 'loop');
    await Promise.all([0, 1, 2, 3].map((r) => waitFor(r, 'ready')));
    await new Promise((r) => setTimeout(r, 300));
    children[1].kill('SIGKILL');
    const errors = await Promise.all([0, 2, 3].map((r) => waitFor(r, 'error')));
    for (const e of errors) {
      expect(e.message).toBe('CommunicatorError: rank 1 disconnected');
      expect(e.ms as number).toBeLessThan(3000);
    }
    for (const r of [0, 2, 3]) {
      await waitFor(r, 'failure');
      expect(inbox[r].find((m) => m.type === 'failure')!.message).toBe('CommunicatorError: rank 1 disconnected');
    }
  }, 60_000);
});
