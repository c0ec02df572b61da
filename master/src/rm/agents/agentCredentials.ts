// Who may speak for an agent id. A new id joins with the cluster agent token (when the master has one) and is
// issued its own secret; from then on only that secret admits the id, whoever holds the cluster token. The master
// keeps the SHA-256 of the secret (32 random bytes: a slow hash adds nothing), never the secret itself.
// `decideAdmission` is the whole policy, pure; the resource manager loads and stores what it names.
import crypto from 'node:crypto';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import type { AgentCredential } from '../../db/agents';

/** What the WebSocket upgrade said about the cluster agent token. */
export type ClusterTokenCheck =
  /** The master has no agent token: any new agent id may join (loopback masters). */
  | 'not-required'
  | 'valid'
  | 'missing'
  | 'invalid';

export type AdmissionDecision =
  /** `issue`: generate a new secret and send it in welcome; `confirm`: the stored secret was presented for the first time. */
  | { admit: true; issue: boolean; confirm: boolean }
  | { admit: false; code: number; reason: string };

export interface AdmissionInput {
  agentId: string;
  /** The stored credential; null for an id the master does not know. */
  stored: AgentCredential | null;
  /** `hello.agentSecret`. */
  presented: string | undefined;
  token: ClusterTokenCheck;
  /** Another connection currently holds this agent id. */
  live: boolean;
}

export function decideAdmission(input: AdmissionInput): AdmissionDecision {
  const { agentId, stored, presented, token, live } = input;
  const tokenOk = token === 'valid' || token === 'not-required';
  if (stored?.secretHash) {
    if (presented !== undefined && secretMatches(presented, stored.secretHash)) return { admit: true, issue: false, confirm: !stored.confirmed };
    // Never presented: the welcome that carried it may have been lost, so the cluster token may get a new one,
    // but never while the id is connected (that would displace a live agent).
    if (!stored.confirmed && !live && tokenOk && presented === undefined) return { admit: true, issue: true, confirm: false };
    return {
      admit: false,
      code: AGENT_CLOSE_CODES.CREDENTIAL_REFUSED,
      reason:
        presented === undefined
          ? `agent ${agentId} is known to this master: its hello must carry the agent secret it was issued (an operator resets it by deleting the agent)`
          : `wrong agent secret for agent ${agentId} (another machine with this id, or its credential was reset: delete the agent on the master)`,
    };
  }
  if (tokenOk) return { admit: true, issue: true, confirm: false };
  return {
    admit: false,
    code: AGENT_CLOSE_CODES.UNAUTHENTICATED,
    reason: token === 'missing' ? `missing agent token: a new agent (${agentId}) must present the cluster agent token` : 'invalid agent token',
  };
}

/** A new agent secret: 32 random bytes, base64url. */
export function newAgentSecret(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function hashAgentSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, hash: string): boolean {
  const a = Buffer.from(hashAgentSecret(secret), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** Compares a presented cluster token with the master's, in constant time. */
export function checkClusterToken(expected: string | undefined, presented: string | null | undefined): ClusterTokenCheck {
  if (!expected) return 'not-required';
  if (!presented) return 'missing';
  // Hashing first makes both sides the same length, so the comparison never leaks the token's length either.
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) ? 'valid' : 'invalid';
}
