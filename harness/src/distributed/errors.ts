/** Why a collective failed. `PEER_DISCONNECTED` and `PEER_CLOSED` mean the trial's allocation should fail fast. */
export type CommunicatorErrorCode =
  | 'PEER_DISCONNECTED' // a peer's connection dropped (its process died, or it failed and aborted the ring)
  | 'PEER_CLOSED' // a peer closed its communicator while this rank still needed it
  | 'TIMEOUT' // connection set-up did not finish in time
  | 'CLOSED' // this communicator was closed
  | 'PROTOCOL' // ranks disagree (different lengths, a malformed frame): a bug in the caller or a stray connection
  | 'INVALID_ARGUMENT';

export class CommunicatorError extends Error {
  override readonly name = 'CommunicatorError';
  readonly code: CommunicatorErrorCode;
  /** The rank that caused the failure, when one is known. */
  readonly peer: number | undefined;

  constructor(message: string, code: CommunicatorErrorCode, options: { peer?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.peer = options.peer;
  }
}
