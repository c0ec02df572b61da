// Authentication of ring connections. The ranks of one allocation share a key nobody else has — derived from the
// allocation's task token, which the agent gives every rank: key = HMAC-SHA256(task token, "hone-ring-v1") — and
// prove it to each other when a connection opens, both ways, without sending it:
//
//   connecting rank c → accepting rank p   Hello { rank: c, size, nonce: Nc }
//   p → c                                   Hello { rank: p, size, nonce: Np, proof: HMAC(key, "accept" | c | p | size | Nc | Np) }
//   c → p                                   Auth  { proof: HMAC(key, "connect" | c | p | size | Nc | Np) }
//
// Each side checks the other's proof before it sends or reads a single gradient: c before it attaches the
// connection, p before it attaches it (it only ever sends to c, after the check). Fresh nonces on both sides make
// a recorded handshake useless later, the role label keeps a proof from being reflected back, and the ranks and
// size bind it to this position in this ring. A connection that fails is closed, with a log line.
import crypto from 'node:crypto';

/** The ring key of an allocation, from its task token (HONE_TASK_TOKEN). */
export function ringKey(taskToken: string): Buffer {
  return crypto.createHmac('sha256', taskToken).update('hone-ring-v1').digest();
}

export function newNonce(): string {
  return crypto.randomBytes(32).toString('hex');
}

/** A nonce as the other side sent it: 32 bytes, hex. */
export function isNonce(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
}

export interface Transcript {
  /** The connecting rank (the accepting rank's next neighbour). */
  connecting: number;
  /** The accepting rank. */
  accepting: number;
  size: number;
  connectingNonce: string;
  acceptingNonce: string;
}

export function proof(key: Uint8Array, role: 'accept' | 'connect', t: Transcript): string {
  return crypto
    .createHmac('sha256', key)
    .update(`hone-ring-v1|${role}|${t.connecting}|${t.accepting}|${t.size}|${t.connectingNonce}|${t.acceptingNonce}`)
    .digest('hex');
}

/** Whether `got` is the proof `role` owes for `t`, compared in constant time. */
export function verifyProof(key: Uint8Array, role: 'accept' | 'connect', t: Transcript, got: unknown): boolean {
  if (typeof got !== 'string' || !/^[0-9a-f]{64}$/.test(got)) return false;
  const want = Buffer.from(proof(key, role, t), 'hex');
  return crypto.timingSafeEqual(want, Buffer.from(got, 'hex'));
}
