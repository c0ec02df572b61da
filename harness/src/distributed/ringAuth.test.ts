// Ring connections authenticate both ways with the allocation's ring key: someone else on the network can neither
// join a ring (and read or inject gradients), nor pose as a rank's neighbour, nor keep the real neighbour out.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeHeader, FrameParser, FrameType } from './framing';
import type { RingCommunicator } from './ring';
import { isNonce, proof, ringKey, verifyProof, type Transcript } from './ringAuth';
import { connectRing, type Exchange } from './setup';
import { inputFor, TEST_RING_KEY } from './testRing';

const frame = (type: number, value: unknown): Buffer => {
  const body = Buffer.from(JSON.stringify(value));
  return Buffer.concat([encodeHeader(type, 0, 0, body.length), body]);
};
const nonce = () => 'ab'.repeat(32);

/** A raw client of a rank's ring port, recording every frame it receives. */
function intruder(address: string): { socket: net.Socket; frames: Array<{ type: number; payload: Buffer }>; closed: Promise<void> } {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const frames: Array<{ type: number; payload: Buffer }> = [];
  const parser = new FrameParser((type, _op, _step, payload) => frames.push({ type, payload: Buffer.from(payload) }));
  const socket = net.connect({ host, port });
  socket.on('data', (c: Buffer) => parser.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, frames, closed };
}

/** A rendezvous whose addresses the test can read (and replace) before the ranks get them. */
function controlledRendezvous(size: number, rewrite: (addresses: string[]) => string[] = (a) => a) {
  const addresses: string[] = new Array<string>(size);
  const posted: Array<(a: string) => void> = [];
  const waits: Array<Promise<string>> = [];
  const addressOf = (rank: number): Promise<string> =>
    addresses[rank] ? Promise.resolve(addresses[rank]) : (waits[rank] ??= new Promise<string>((r) => (posted[rank] = r)));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const exchange =
    (rank: number): Exchange =>
    async (address) => {
      addresses[rank] = address;
      posted[rank]?.(address);
      await released;
      // Every rank's address, once all have posted.
      await Promise.all(Array.from({ length: size }, (_, r) => addressOf(r)));
      return rewrite([...addresses]);
    };
  return { exchange, addressOf, release };
}

describe('ring authentication', () => {
  const open: RingCommunicator[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  it('derives one key per task token, and proofs that only that key makes', () => {
    expect(ringKey('token-a').equals(ringKey('token-a'))).toBe(true);
    expect(ringKey('token-a').equals(ringKey('token-b'))).toBe(false);
    const t: Transcript = { connecting: 1, accepting: 0, size: 2, connectingNonce: nonce(), acceptingNonce: 'cd'.repeat(32) };
    const p = proof(TEST_RING_KEY, 'accept', t);
    expect(verifyProof(TEST_RING_KEY, 'accept', t, p)).toBe(true);
    // Not with another key, not reflected as the other role, not for another position in the ring.
    expect(verifyProof(ringKey('other'), 'accept', t, p)).toBe(false);
    expect(verifyProof(TEST_RING_KEY, 'connect', t, p)).toBe(false);
    expect(verifyProof(TEST_RING_KEY, 'accept', { ...t, connecting: 2, size: 3 }, p)).toBe(false);
    expect(verifyProof(TEST_RING_KEY, 'accept', t, 'not hex')).toBe(false);
    expect(isNonce(nonce())).toBe(true);
    expect(isNonce('short')).toBe(false);
  });

  it('refuses a client that cannot prove the key, before sending it anything but the challenge, and still forms the ring', async () => {
    const logs: string[] = [];
    const rv = controlledRendezvous(2);
    const rank0 = connectRing({ rank: 0, size: 2, key: TEST_RING_KEY, exchange: rv.exchange(0), timeoutMs: 10_000, log: (l) => logs.push(l) });
    const address0 = await rv.addressOf(0);

    // An old-style hello (no nonce) is dropped at once.
    const bare = intruder(address0);
    bare.socket.write(frame(FrameType.Hello, { rank: 1, size: 2 }));
    await bare.closed;
    expect(bare.frames).toEqual([]);

    // A hello as rank 1 gets the challenge answer, and a wrong proof gets the connection closed.
    const guess = intruder(address0);
    guess.socket.write(frame(FrameType.Hello, { rank: 1, size: 2, nonce: nonce() }));
    await new Promise((r) => setTimeout(r, 100));
    guess.socket.write(frame(FrameType.Auth, { proof: '00'.repeat(32) }));
    await guess.closed;
    expect(guess.frames.map((f) => f.type)).toEqual([FrameType.Hello]);
    expect(logs.join('\n')).toMatch(/rank 0: refused a ring connection from .*failed to prove it holds this allocation's ring key/);

    // A client that says hello and then waits holds nothing up either.
    const idle = intruder(address0);
    idle.socket.write(frame(FrameType.Hello, { rank: 1, size: 2, nonce: nonce() }));

    const rank1 = connectRing({ rank: 1, size: 2, key: TEST_RING_KEY, exchange: rv.exchange(1), timeoutMs: 10_000 });
    rv.release();
    const comms = await Promise.all([rank0, rank1]);
    open.push(...comms);
    const [a, b] = [inputFor(0, 1000), inputFor(1, 1000)];
    const want = a.map((x, i) => Math.fround(x + b[i]!));
    const results = await Promise.all([comms[0]!.allreduce(a, 'sum'), comms[1]!.allreduce(b, 'sum')]);
    expect(Array.from(results[0]!)).toEqual(Array.from(want));
    expect(Array.from(results[1]!)).toEqual(Array.from(want));
    // The idle intruder never got a gradient: only its challenge answer.
    await idle.closed;
    expect(idle.frames.map((f) => f.type)).toEqual([FrameType.Hello]);
  });

  it('does not trust a listener posing as the previous rank without the key: no gradient is read from it', async () => {
    const logs: string[] = [];
    // A fake "rank 1" that answers hello with a made-up proof and then pushes data frames.
    const fake = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write(frame(FrameType.Hello, { rank: 1, size: 2, nonce: nonce(), proof: '11'.repeat(32) }));
        const data = Buffer.alloc(4000, 1);
        socket.write(Buffer.concat([encodeHeader(FrameType.Data, 0, 0, data.length), data]));
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const fakeAddress = `127.0.0.1:${(fake.address() as net.AddressInfo).port}`;
    const rv = controlledRendezvous(2, (a) => [a[0]!, fakeAddress]);
    const rank0 = connectRing({ rank: 0, size: 2, key: TEST_RING_KEY, exchange: rv.exchange(0), timeoutMs: 5000, log: (l) => logs.push(l) });
    void rv.exchange(1)('127.0.0.1:1');
    rv.release();
    await expect(rank0).rejects.toThrow(/failed to prove it is rank 1 of this allocation \(ring key\)/);
    expect(logs.join('\n')).toMatch(/answered as rank 1 but failed to prove/);
    fake.close();
  });

  it('ranks with different keys (another allocation) never form a ring', async () => {
    const rv = controlledRendezvous(2);
    const r0 = connectRing({ rank: 0, size: 2, key: TEST_RING_KEY, exchange: rv.exchange(0), timeoutMs: 1500, log: () => {} });
    const r1 = connectRing({ rank: 1, size: 2, key: ringKey('another allocation'), exchange: rv.exchange(1), timeoutMs: 1500, log: () => {} });
    rv.release();
    const [a, b] = await Promise.allSettled([r0, r1]);
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('rejected');
    expect(String((a as PromiseRejectedResult).reason) + String((b as PromiseRejectedResult).reason)).toMatch(/ring key/);
  });

  it('refuses an oversized set-up frame without allocating it', async () => {
    const logs: string[] = [];
    const rv = controlledRendezvous(2);
    const rank0 = connectRing({ rank: 0, size: 2, key: TEST_RING_KEY, exchange: rv.exchange(0), timeoutMs: 1000, log: (l) => logs.push(l) });
    const c = intruder(await rv.addressOf(0));
    c.socket.write(encodeHeader(FrameType.Hello, 0, 0, 1 << 30));
    await c.closed;
    expect(logs.join('\n')).toMatch(/malformed set-up frame/);
    void rv.exchange(1)('127.0.0.1:1');
    rv.release();
    await expect(rank0).rejects.toThrow(/timed out/);
  });
});
