// Users repository: the only code that reads or writes `users` and `user_tokens` (sessions and access tokens;
// only a hash of each token is stored).
import type { TokenInfo, UserInfo } from '@hone/protocol';
import type { Queryable } from './database';
import { iso, isoOrNull } from './sql';

export interface UserRow extends UserInfo {
  id: number;
  passwordHash: string;
}

function toUser(r: any): UserRow {
  return { id: Number(r.id), username: r.username, admin: r.admin, active: r.active, createdAt: iso(r.created_at), passwordHash: r.password_hash };
}

export function publicUser(u: UserRow): UserInfo {
  return { username: u.username, admin: u.admin, active: u.active, createdAt: u.createdAt };
}

/** Creates a user; null when the name is taken. */
export async function insertUser(q: Queryable, u: { username: string; passwordHash: string; admin: boolean }): Promise<UserRow | null> {
  const r = await q.query('INSERT INTO users (username, password_hash, admin) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING RETURNING *', [
    u.username,
    u.passwordHash,
    u.admin,
  ]);
  return r.rows[0] ? toUser(r.rows[0]) : null;
}

export async function getUser(q: Queryable, username: string): Promise<UserRow | null> {
  const r = await q.query('SELECT * FROM users WHERE username = $1', [username]);
  return r.rows[0] ? toUser(r.rows[0]) : null;
}

export async function listUsers(q: Queryable): Promise<UserRow[]> {
  const r = await q.query('SELECT * FROM users ORDER BY username');
  return r.rows.map(toUser);
}

export async function countUsers(q: Queryable): Promise<number> {
  const r = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
  return r.rows[0]!.n;
}

export async function updateUser(q: Queryable, username: string, patch: { active?: boolean; admin?: boolean; passwordHash?: string }): Promise<UserRow | null> {
  const r = await q.query(
    `UPDATE users SET active = coalesce($2, active), admin = coalesce($3, admin), password_hash = coalesce($4, password_hash)
      WHERE username = $1 RETURNING *`,
    [username, patch.active ?? null, patch.admin ?? null, patch.passwordHash ?? null],
  );
  return r.rows[0] ? toUser(r.rows[0]) : null;
}

export type TokenKind = 'session' | 'access';

export async function insertToken(
  q: Queryable,
  t: { userId: number; kind: TokenKind; tokenHash: string; description: string; expiresAt: Date | null },
): Promise<TokenInfo> {
  const r = await q.query(
    `WITH ins AS (INSERT INTO user_tokens (user_id, kind, token_hash, description, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING *)
     SELECT ins.*, u.username FROM ins JOIN users u ON u.id = ins.user_id`,
    [t.userId, t.kind, t.tokenHash, t.description, t.expiresAt],
  );
  return toToken(r.rows[0]);
}

function toToken(r: any): TokenInfo {
  return {
    id: Number(r.id),
    username: r.username,
    description: r.description,
    createdAt: iso(r.created_at),
    expiresAt: isoOrNull(r.expires_at),
    lastUsedAt: isoOrNull(r.last_used_at),
    revoked: r.revoked_at != null,
  };
}

/** The active user a token hash belongs to, if the token is neither revoked nor expired. */
export async function findUserByToken(q: Queryable, tokenHash: string): Promise<{ user: UserRow; tokenId: number; kind: TokenKind } | null> {
  const r = await q.query(
    `SELECT u.*, t.id AS token_id, t.kind FROM user_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.active`,
    [tokenHash],
  );
  const row = r.rows[0];
  return row ? { user: toUser(row), tokenId: Number(row.token_id), kind: row.kind } : null;
}

export async function touchToken(q: Queryable, tokenId: number): Promise<void> {
  await q.query('UPDATE user_tokens SET last_used_at = now() WHERE id = $1', [tokenId]);
}

/** Access tokens (not sessions) of one user, or of everyone. */
export async function listAccessTokens(q: Queryable, username?: string): Promise<TokenInfo[]> {
  const r = await q.query(
    `SELECT t.*, u.username FROM user_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.kind = 'access' AND ($1::text IS NULL OR u.username = $1) ORDER BY t.id`,
    [username ?? null],
  );
  return r.rows.map(toToken);
}

export async function getToken(q: Queryable, id: number): Promise<TokenInfo | null> {
  const r = await q.query('SELECT t.*, u.username FROM user_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1', [id]);
  return r.rows[0] ? toToken(r.rows[0]) : null;
}

export async function revokeToken(q: Queryable, id: number): Promise<void> {
  await q.query('UPDATE user_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [id]);
}

export async function revokeTokenByHash(q: Queryable, tokenHash: string): Promise<void> {
  await q.query('UPDATE user_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE token_hash = $1', [tokenHash]);
}

/** Ends every session and access token of a user (deactivation, password change). */
export async function revokeUserTokens(q: Queryable, userId: number, kinds: TokenKind[] = ['session', 'access']): Promise<void> {
  await q.query('UPDATE user_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND kind = ANY($2)', [userId, kinds]);
}
