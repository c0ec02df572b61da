// Who a user token belongs to. Lookups are cached briefly (the web UI and CLI send bursts of requests); logout,
// revocation and deactivation clear the cache, so they take effect at once.
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db';
import { findUserByToken, touchToken, type UserRow } from '../db/users';
import { HoneError } from '../errors';
import type { EventBus } from '../events';
import { bearer } from '../api/taskAuth';
import { hashToken, isUserToken } from './tokens';

export interface UserIdentity {
  id: number;
  username: string;
  admin: boolean;
  tokenId: number;
}

const CACHE_MS = 2000;
const CACHE_MAX = 10_000;
/** last_used_at is written at most this often per token. */
const TOUCH_MS = 60_000;

export class UserAuth {
  private readonly cache = new Map<string, { identity: UserIdentity; until: number }>();
  private readonly touched = new Map<number, number>();
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
  ) {}

  /** The signed-in user of a request (bearer header, or `?token=` where the route allows it). */
  async authenticate(req: FastifyRequest, opts: { queryToken?: boolean } = {}): Promise<UserIdentity> {
    let token = bearer(req);
    if (!token && opts.queryToken) token = ((req.query as Record<string, unknown> | undefined)?.token as string | undefined) ?? null;
    if (!token) throw new HoneError('UNAUTHENTICATED', 'sign in first: this route needs a user token (Authorization: Bearer ...; `hone user login`)');
    if (!isUserToken(token)) throw new HoneError('UNAUTHENTICATED', 'a task token cannot be used here: this route needs a user token');
    return this.identify(token);
  }

  async identify(token: string): Promise<UserIdentity> {
    const hash = hashToken(token);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.identity;
    const found = await findUserByToken(this.db, hash);
    if (!found) {
      this.cache.delete(hash);
      throw new HoneError('UNAUTHENTICATED', 'the token is unknown, expired or revoked, or its user is deactivated; sign in again');
    }
    const identity = toIdentity(found.user, found.tokenId);
    if (this.cache.size > CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { identity, until: now + CACHE_MS });
    if ((this.touched.get(found.tokenId) ?? 0) + TOUCH_MS < now) {
      this.touched.set(found.tokenId, now);
      if (this.touched.size > CACHE_MAX) this.touched.clear();
      void touchToken(this.db, found.tokenId).catch(() => undefined);
    }
    return identity;
  }

  /**
   * Forget cached identities (after a logout, revocation, deactivation or permission change), and tell
   * long-lived connections (the live stream) to check their token again.
   */
  forget(): void {
    this.cache.clear();
    this.bus.publish({ type: 'credentials' });
  }
}

function toIdentity(u: UserRow, tokenId: number): UserIdentity {
  return { id: u.id, username: u.username, admin: u.admin, tokenId };
}
