// Signing in and out: POST /auth/login (open, throttled per user and address), POST /auth/logout, GET /auth/me.
import { Type } from 'typebox';
import type { LoginResult, UserInfo } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { HoneError } from '@hone/protocol/errors';
import type { App, MasterContext } from '../context';
import { getUser, insertToken, publicUser, revokeTokenByHash } from '../db/users';
import { verifyPassword } from '../auth/passwords';
import { hashToken, newUserToken } from '../auth/tokens';
import { bearer } from './taskAuth';

/** Login attempts allowed per user name and client address in a minute. */
export const LOGIN_ATTEMPTS_PER_MINUTE = 10;

export function registerAuthRoutes(app: App, ctx: MasterContext): void {
  app.post(
    `${API_PREFIX}/auth/login`,
    {
      config: {
        auth: 'public',
        rateLimit: {
          max: LOGIN_ATTEMPTS_PER_MINUTE,
          timeWindow: 60_000,
          hook: 'preHandler',
          keyGenerator: (req) => `${req.ip}|${String((req.body as { username?: unknown } | undefined)?.username ?? '')}`,
          errorResponseBuilder: (_req, c) =>
            new HoneError('RESOURCE_EXHAUSTED', `too many sign-in attempts; try again in ${c.after}`),
        },
      },
      schema: {
        tags: ['auth'],
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
      },
    },
    async (req): Promise<LoginResult> => {
      const { username, password } = req.body;
      const user = await getUser(ctx.db, username);
      // The same answer, and about the same time, for an unknown user and a wrong password.
      const ok = user ? await verifyPassword(password, user.passwordHash) : (await verifyPassword(password, DUMMY_HASH), false);
      if (!user || !ok || !user.active) {
        req.log.warn({ username, ip: req.ip }, 'sign-in refused');
        throw new HoneError('UNAUTHENTICATED', user && ok && !user.active ? `user ${username} is deactivated` : 'wrong user name or password');
      }
      const { token, hash } = newUserToken();
      const expiresAt = new Date(Date.now() + ctx.opts.sessionTtlMs);
      await insertToken(ctx.db, { userId: user.id, kind: 'session', tokenHash: hash, description: `session from ${req.ip}`, expiresAt });
      return { token, expiresAt: expiresAt.toISOString(), user: publicUser(user) };
    },
  );

  app.post(`${API_PREFIX}/auth/logout`, { schema: { tags: ['auth'] } }, async (req, reply) => {
    await revokeTokenByHash(ctx.db, hashToken(bearer(req)!));
    ctx.userAuth.forget();
    return reply.status(204).send();
  });

  app.get(`${API_PREFIX}/auth/me`, { schema: { tags: ['auth'] } }, async (req): Promise<UserInfo> => {
    const user = await getUser(ctx.db, req.user!.username);
    if (!user) throw new HoneError('UNAUTHENTICATED', 'your user no longer exists');
    return publicUser(user);
  });
}

/** A valid hash of no real password, verified against when the user does not exist. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
