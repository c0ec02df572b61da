// Users (admins manage them) and access tokens (each user manages their own; admins see all).
import { Type } from 'typebox';
import type { CreateTokenResult, CreateUserResult, TokenInfo, UserInfo } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { HoneError, notFound } from '@hone/protocol/errors';
import type { App, MasterContext } from '../context';
import { generatePassword, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from '../auth/passwords';
import { requireAdmin } from '../auth/permissions';
import { newUserToken } from '../auth/tokens';
import { getToken, getUser, insertToken, insertUser, listAccessTokens, listUsers, publicUser, revokeToken, revokeUserTokens, updateUser } from '../db/users';

const Username = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
const Password = Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 });
const NameParams = Type.Object({ username: Username });

export function registerUserRoutes(app: App, ctx: MasterContext): void {
  app.get(`${API_PREFIX}/users`, { schema: { tags: ['users'] } }, async (): Promise<UserInfo[]> => (await listUsers(ctx.db)).map(publicUser));

  app.post(
    `${API_PREFIX}/users`,
    { schema: { tags: ['users'], body: Type.Object({ username: Username, password: Type.Optional(Password), admin: Type.Optional(Type.Boolean()) }, { additionalProperties: false }) } },
    async (req, reply): Promise<CreateUserResult> => {
      requireAdmin(req.user!, 'create users');
      const generated = req.body.password === undefined ? generatePassword() : undefined;
      const created = await insertUser(ctx.db, { username: req.body.username, passwordHash: await hashPassword(req.body.password ?? generated!), admin: req.body.admin ?? false });
      if (!created) throw new HoneError('CONFLICT', `user ${req.body.username} already exists`);
      reply.status(201);
      return { user: publicUser(created), ...(generated ? { password: generated } : {}) };
    },
  );

  app.patch(
    `${API_PREFIX}/users/:username`,
    {
      schema: {
        tags: ['users'],
        params: NameParams,
        body: Type.Object({ active: Type.Optional(Type.Boolean()), admin: Type.Optional(Type.Boolean()), password: Type.Optional(Password) }, { additionalProperties: false }),
      },
    },
    async (req): Promise<UserInfo> => {
      requireAdmin(req.user!, 'change users');
      const { username } = req.params;
      if (username === req.user!.username && (req.body.active === false || req.body.admin === false)) {
        throw new HoneError('CONFLICT', 'you cannot deactivate yourself or remove your own admin rights; ask another admin');
      }
      const updated = await updateUser(ctx.db, username, {
        ...(req.body.active !== undefined ? { active: req.body.active } : {}),
        ...(req.body.admin !== undefined ? { admin: req.body.admin } : {}),
        ...(req.body.password !== undefined ? { passwordHash: await hashPassword(req.body.password) } : {}),
      });
      if (!updated) throw notFound('user', username);
      // A deactivated user, or one whose password was reset, is signed out everywhere.
      if (req.body.active === false || req.body.password !== undefined) await revokeUserTokens(ctx.db, updated.id, req.body.active === false ? ['session', 'access'] : ['session']);
      ctx.userAuth.forget();
      return publicUser(updated);
    },
  );

  app.post(
    `${API_PREFIX}/users/me/password`,
    { schema: { tags: ['users'], body: Type.Object({ oldPassword: Type.String({ maxLength: 1024 }), newPassword: Password }, { additionalProperties: false }) } },
    async (req, reply) => {
      const user = await getUser(ctx.db, req.user!.username);
      if (!user || !(await verifyPassword(req.body.oldPassword, user.passwordHash))) throw new HoneError('PERMISSION_DENIED', 'the current password is wrong');
      await updateUser(ctx.db, user.username, { passwordHash: await hashPassword(req.body.newPassword) });
      // Other sessions end; this one goes on.
      await revokeUserTokens(ctx.db, user.id, ['session']);
      const { token, hash } = newUserToken();
      const expiresAt = new Date(Date.now() + ctx.opts.sessionTtlMs);
      await insertToken(ctx.db, { userId: user.id, kind: 'session', tokenHash: hash, description: 'session after a password change', expiresAt });
      ctx.userAuth.forget();
      return reply.status(200).send({ token, expiresAt: expiresAt.toISOString(), user: publicUser(user) });
    },
  );

  app.get(
    `${API_PREFIX}/tokens`,
    { schema: { tags: ['users'], querystring: Type.Object({ all: Type.Boolean({ default: false }) }) } },
    async (req): Promise<TokenInfo[]> => {
      if (req.query.all) requireAdmin(req.user!, "list other users' tokens");
      return listAccessTokens(ctx.db, req.query.all ? undefined : req.user!.username);
    },
  );

  app.post(
    `${API_PREFIX}/tokens`,
    {
      schema: {
        tags: ['users'],
        body: Type.Object(
          { description: Type.String({ maxLength: 256 }), expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 86400 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply): Promise<CreateTokenResult> => {
      const { token, hash } = newUserToken();
      const expiresAt = req.body.expiresInSeconds ? new Date(Date.now() + req.body.expiresInSeconds * 1000) : null;
      const info = await insertToken(ctx.db, { userId: req.user!.id, kind: 'access', tokenHash: hash, description: req.body.description, expiresAt });
      reply.status(201);
      return { ...info, token };
    },
  );

  app.delete(`${API_PREFIX}/tokens/:id`, { schema: { tags: ['users'], params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req, reply) => {
    const t = await getToken(ctx.db, req.params.id);
    if (!t || (t.username !== req.user!.username && !req.user!.admin)) throw notFound('token', req.params.id);
    await revokeToken(ctx.db, t.id);
    ctx.userAuth.forget();
    return reply.status(204).send();
  });
}
