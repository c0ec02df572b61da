// One TCP connection between two ranks of the ring: a socket, its frame parser (framing.ts), sends that resolve once
// the kernel has the bytes, and the hello that opens every connection (each side says which rank of which size it
// is and proves it holds the allocation's ring key (ringAuth.ts), so a stray client or a wrong address is refused
// before any data flows).
import net from 'node:net';
import { FrameParser, encodeHeader, type BodyProvider, type FrameHandler } from './framing';

/** One socket with its frame parser; `handler` is swapped once the connection has introduced itself. */
export class Connection {
  readonly parser: FrameParser;
  handler: FrameHandler;
  /** The rank at the other end, once its hello has arrived (-1 before). */
  peer = -1;
  /** The peer closed its communicator on purpose (a goodbye frame came): its closing socket is no failure. */
  goodbye = false;
  /** The socket's last error, kept to explain a close. */
  lastError: Error | undefined;
  /** The stream cannot be parsed (default: drop the socket). */
  onBadStream: (error: Error) => void;

  /** Wraps an accepted socket; `Connection.connect` makes one that reads straight into payload buffers. */
  constructor(
    readonly socket: net.Socket,
    handler: FrameHandler,
    parser?: FrameParser,
  ) {
    this.handler = handler;
    this.onBadStream = () => socket.destroy();
    this.parser = parser ?? new FrameParser((type, op, step, payload) => this.handler(type, op, step, payload));
    socket.setNoDelay(true);
    if (!parser) {
      socket.on('data', (chunk: Buffer) => {
        try {
          this.parser.push(chunk);
        } catch (error) {
          this.onBadStream(error as Error);
        }
      });
    }
    socket.on('error', (error) => {
      this.lastError = error;
    });
  }

  /** An outgoing connection whose reads go through the parser's buffers (no per-read allocation or copy). */
  static connect(host: string, port: number, handler: FrameHandler, bodyFor?: BodyProvider): Connection {
    const ref: { conn?: Connection } = {};
    const parser = new FrameParser((type, op, step, payload) => ref.conn!.handler(type, op, step, payload), bodyFor);
    const socket = net.connect({
      host,
      port,
      onread: {
        buffer: () => parser.readBuffer(),
        callback: (n: number) => {
          try {
            parser.onRead(n);
          } catch (error) {
            ref.conn!.onBadStream(error as Error);
            return false;
          }
          return true;
        },
      },
    });
    ref.conn = new Connection(socket, handler, parser);
    return ref.conn;
  }

  /** Resolves when the frame has been handed to the kernel (or the socket is gone). Never rejects. */
  send(type: number, op: number, step: number, payload?: Uint8Array): Promise<void> {
    const socket = this.socket;
    const header = encodeHeader(type, op, step, payload ? payload.byteLength : 0);
    return new Promise<void>((resolve) => {
      if (socket.destroyed || !socket.writable) {
        resolve();
        return;
      }
      if (payload && payload.byteLength > 0) {
        socket.cork();
        socket.write(header);
        socket.write(payload, () => resolve());
        socket.uncork();
      } else {
        socket.write(header, () => resolve());
      }
    });
  }

  sendJson(type: number, value: unknown): Promise<void> {
    return this.send(type, 0, 0, Buffer.from(JSON.stringify(value)));
  }
}

/** The first frame on every connection, both ways. */
export interface Hello {
  rank: number;
  size: number;
  /** The sender's fresh challenge (ringAuth.ts). */
  nonce: string;
  /** The accepting side's answer to the connecting side's nonce. */
  proof?: string;
}

export function readHello(payload: Buffer): Hello | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as Partial<Hello>;
    if (typeof v.rank === 'number' && typeof v.size === 'number' && typeof v.nonce === 'string') {
      return { rank: v.rank, size: v.size, nonce: v.nonce, ...(typeof v.proof === 'string' ? { proof: v.proof } : {}) };
    }
  } catch {
    // not a hello
  }
  return undefined;
}

/** The connecting side's proof, in an Auth frame. */
export function readAuth(payload: Buffer): { proof: string } | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as { proof?: unknown };
    if (typeof v.proof === 'string') return { proof: v.proof };
  } catch {
    // not an auth frame
  }
  return undefined;
}
