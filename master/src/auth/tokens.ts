// User tokens (sessions and access tokens): `hone_` + 32 random bytes; the database keeps only their SHA-256.
// A token has 256 bits of entropy, so a fast hash is enough to make a stolen database useless for signing in.
import crypto from 'node:crypto';
import { USER_TOKEN_PREFIX } from '@hone/protocol/auth';

export function newUserToken(): { token: string; hash: string } {
  const token = `${USER_TOKEN_PREFIX}${crypto.randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export function isUserToken(token: string): boolean {
  return token.startsWith(USER_TOKEN_PREFIX);
}
