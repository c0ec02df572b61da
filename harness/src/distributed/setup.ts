// Joining the ring: each rank listens on an ephemeral port, swaps addresses with the others through `exchange` (the
// master's rendezvous), connects to its previous neighbour and accepts its next one, each connection opened by a
// hello and a mutual proof of the allocation's ring key (connection.ts, ringAuth.ts), then hands both connections
// to a `RingCommunicator` (ring.ts). The whole set-up runs under one timeout whose message says what was still
// awaited; a half-made ring closes every socket it opened.
import net from 'node:net';
import { Connection, readAuth, readHello } from './connection';
import { CommunicatorError } from './errors';
import { FrameType, MAX_FRAME_BYTES, MAX_HANDSHAKE_FRAME_BYTES } from './framing';
import { RingCommunicator } from './ring';
import { isNonce, newNonce, proof, verifyProof, type Transcript } from './ringAuth';

/** Posts this rank's "host:port" and resolves to every rank's address, indexed by rank. */
export type Exchange = (myAddress: string) => Promise<string[]>;

export interface ConnectRingOptions {
  rank: number;
  size: number;
  /** This rank's index among the ranks on its machine (`Collectives.localRank`). Default: `rank`. */
  localRank?: number;
  /** The host other ranks reach this one at (advertised in `exchange`). Default 127.0.0.1. */
  host?: string;
  /** The interface to listen on. Default: `host`; '0.0.0.0' listens on all. */
  listenHost?: string;
  /** The rendezvous: the master's (rendezvous.ts) for a trial, an in-process one in tests. */
  exchange: Exchange;
  /**
   * The allocation's ring key (`ringKey(taskToken)`, ringAuth.ts), the same on every rank: each connection proves
   * it both ways before any data flows, so nobody else on the network can join the ring or inject gradients.
   */
  key: Uint8Array;
  /** Where refused connections are reported (default console.error, which the agent ships as a log line). */
  log?: (line: string) => void;
  /** Limit for the whole set-up: listening, exchange, connecting both neighbours. Default 120 s. */
  timeoutMs?: number;
  /** Called once if the communicator fails (the harness exits the process). */
  onFailure?: (error: CommunicatorError) => void;
  /** Tuning: all-reduce and broadcast split data into segments of this size, several in flight. Default 8 MiB. */
  segmentBytes?: number;
}

/** "host:port", with brackets around an IPv6 host. */
function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function parseAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  let host = address.slice(0, at);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new CommunicatorError(`bad rank address ${JSON.stringify(address)} (expected host:port)`, 'INVALID_ARGUMENT');
  }
  return { host, port };
}

/**
 * Joins the ring of `size` ranks: listens on an ephemeral port, swaps addresses through `exchange`, connects to the
 * next rank and accepts the previous one. With size 1 it opens no sockets and every collective is local.
 */
export async function connectRing(options: ConnectRingOptions): Promise<RingCommunicator> {
  const { rank, size } = options;
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size) {
    throw new CommunicatorError(`bad rank ${rank} of size ${size}`, 'INVALID_ARGUMENT');
  }
  const comm = new RingCommunicator(rank, size, options.localRank ?? rank, options.segmentBytes);
  if (options.onFailure) comm.onFailure(options.onFailure);
  if (size === 1) return comm;

  const timeoutMs = options.timeoutMs ?? 120_000;
  const key = options.key;
  const log = options.log ?? ((line: string) => console.error(line));
  if (!(key instanceof Uint8Array) || key.byteLength < 16) throw new CommunicatorError('connectRing needs the allocation ring key (ringKey(taskToken))', 'INVALID_ARGUMENT');
  const host = options.host ?? '127.0.0.1';
  const next = (rank + 1) % size;
  const prev = (rank - 1 + size) % size;
  const server = net.createServer();
  const sockets = new Set<net.Socket>();
  const attached = new Set<net.Socket>();
  let stage = 'listening';
  let settled = false;
  let timer: NodeJS.Timeout | undefined;

  const cleanup = (): void => {
    server.close();
    for (const s of sockets) s.destroy();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      timer = setTimeout(() => {
        fail(new CommunicatorError(`rank ${rank}: ring set-up timed out after ${timeoutMs} ms while ${stage}`, 'TIMEOUT'));
      }, timeoutMs);
      let nextReady = false;
      let prevReady = false;
      const maybeDone = (): void => {
        if (nextReady && prevReady && !settled) {
          settled = true;
          resolve();
        }
      };

      // Each rank connects to its previous neighbour (data flows prev → this rank on that socket, read through
      // `onread` straight into payload buffers) and accepts its next neighbour, once it has proved the ring key;
      // anything else is dropped. Several half-open handshakes may wait at once: a stray client does not keep the
      // real neighbour out.
      server.on('connection', (socket) => {
        sockets.add(socket);
        const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
        const drop = (why: string): void => {
          log(`harness: rank ${rank}: refused a ring connection from ${who}: ${why}`);
          socket.destroy();
        };
        let transcript: Transcript | undefined;
        const conn = new Connection(socket, (type, _op, _step, payload) => {
          if (nextReady || settled) {
            socket.destroy();
            return;
          }
          if (!transcript) {
            const hello = type === FrameType.Hello ? readHello(payload) : undefined;
            if (!hello || !isNonce(hello.nonce)) return drop('it did not open with a ring hello');
            if (hello.rank !== next || hello.size !== size) return drop(`it says it is rank ${hello.rank} of ${hello.size}, not rank ${next} of ${size}`);
            transcript = { connecting: next, accepting: rank, size, connectingNonce: hello.nonce, acceptingNonce: newNonce() };
            void conn.sendJson(FrameType.Hello, { rank, size, nonce: transcript.acceptingNonce, proof: proof(key, 'accept', transcript) });
            return;
          }
          const auth = type === FrameType.Auth ? readAuth(payload) : undefined;
          if (!auth || !verifyProof(key, 'connect', transcript, auth.proof)) return drop(`it failed to prove it holds this allocation's ring key (claimed rank ${next})`);
          conn.parser.maxFrameBytes = MAX_FRAME_BYTES;
          conn.peer = next;
          attached.add(socket);
          comm.attach('next', conn);
          nextReady = true;
          stage = `connecting to rank ${prev}`;
          maybeDone();
        });
        conn.parser.maxFrameBytes = MAX_HANDSHAKE_FRAME_BYTES;
        conn.onBadStream = (error) => drop(`malformed set-up frame (${error.message})`);
        socket.on('close', () => sockets.delete(socket));
      });
      server.on('error', (error) => fail(new CommunicatorError(`rank ${rank}: cannot listen: ${error.message}`, 'INVALID_ARGUMENT', { cause: error })));
      server.listen(0, options.listenHost ?? host, () => {
        const port = (server.address() as net.AddressInfo).port;
        const me = formatAddress(host, port);
        stage = 'waiting for the rendezvous (exchange) to return every rank address';
        options.exchange(me).then(
          (addresses) => {
            if (settled) return;
            if (!Array.isArray(addresses) || addresses.length !== size) {
              fail(new CommunicatorError(`rank ${rank}: exchange returned ${Array.isArray(addresses) ? addresses.length : 'no'} addresses for ${size} ranks`, 'PROTOCOL'));
              return;
            }
            let target: { host: string; port: number };
            try {
              target = parseAddress(addresses[prev]);
            } catch (error) {
              fail(error as Error);
              return;
            }
            stage = `connecting to rank ${prev} at ${addresses[prev]}${nextReady ? '' : ` and waiting for rank ${next} to connect`}`;
            const attempt = (): void => {
              if (settled) return;
              let connected = false;
              const myNonce = newNonce();
              // Until the peer has proved the key, no payload goes to the communicator's buffers.
              let trusted = false;
              const conn = Connection.connect(target.host, target.port, onHello, (type, op, step, length) => (trusted ? comm.bodyFor(type, op, step, length) : undefined));
              conn.parser.maxFrameBytes = MAX_HANDSHAKE_FRAME_BYTES;
              function onHello(type: number, _op: number, _step: number, payload: Buffer): void {
                const hello = type === FrameType.Hello ? readHello(payload) : undefined;
                if (!hello || hello.rank !== prev || hello.size !== size || !isNonce(hello.nonce)) {
                  fail(new CommunicatorError(`rank ${rank}: ${addresses[prev]} is not rank ${prev} of ${size}`, 'PROTOCOL'));
                  return;
                }
                const t: Transcript = { connecting: rank, accepting: prev, size, connectingNonce: myNonce, acceptingNonce: hello.nonce };
                if (!verifyProof(key, 'accept', t, hello.proof)) {
                  log(`harness: rank ${rank}: ${addresses[prev]} answered as rank ${prev} but failed to prove it holds this allocation's ring key; closing`);
                  socket.destroy();
                  fail(new CommunicatorError(`rank ${rank}: ${addresses[prev]} failed to prove it is rank ${prev} of this allocation (ring key)`, 'PROTOCOL'));
                  return;
                }
                void conn.sendJson(FrameType.Auth, { proof: proof(key, 'connect', t) });
                trusted = true;
                conn.parser.maxFrameBytes = MAX_FRAME_BYTES;
                conn.peer = prev;
                attached.add(socket);
                comm.attach('prev', conn);
                prevReady = true;
                stage = `waiting for rank ${next} to connect`;
                maybeDone();
              }
              const socket = conn.socket;
              sockets.add(socket);
              socket.once('connect', () => {
                connected = true;
                void conn.sendJson(FrameType.Hello, { rank, size, nonce: myNonce });
              });
              socket.once('close', () => {
                sockets.delete(socket);
                if (!connected && !settled) setTimeout(attempt, 100); // not listening yet, or refused: retry
                else if (!prevReady) fail(new CommunicatorError(`rank ${rank}: rank ${prev} at ${addresses[prev]} dropped the connection during set-up`, 'PEER_DISCONNECTED', { peer: prev }));
              });
            };
            attempt();
          },
          (error: unknown) => fail(new CommunicatorError(`rank ${rank}: rendezvous failed: ${error instanceof Error ? error.message : String(error)}`, 'TIMEOUT', { cause: error })),
        );
      });
      comm.onFailure((error) => fail(error));
    });
  } catch (error) {
    clearTimeout(timer);
    // Closed first, so that dropping half-made connections does not report a failure as well as the rejection.
    void comm.close();
    cleanup();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  server.close();
  for (const s of sockets) if (!attached.has(s)) s.destroy();
  return comm;
}
