// Users, sessions, access tokens and the audit log: the REST contract of the master's authentication.
//
// Every route needs `Authorization: Bearer <token>` except `POST /auth/login` and `GET /master`. A token is
// one of:
// - a user session (from login; expires, default 7 days; revoked by logout) or a user access token (from
//   `POST /tokens`, for automation; optional expiry; revoked with `DELETE /tokens/:id`). Both start with
//   `hone_` and reach the user routes with that user's permissions;
// - a task token (one per allocation, in the harness's environment): reaches only the harness routes of its own
//   allocation and trial, and only while the allocation lives.
// The live stream WebSocket (`/api/v1/stream`) takes the user token as `?token=` (browsers cannot set headers
// on a WebSocket). A missing or bad token is 401 UNAUTHENTICATED; a refusal of a signed-in user is 403
// PERMISSION_DENIED naming what is missing.
//
// Permissions (Determined's open-source model): any signed-in user reads everything; the owner of an
// experiment or an admin may pause, activate, kill, delete it or change its scheduling settings; only admins
// manage users, agents and pools.

/** Prefix of user session and access tokens (task tokens have none). */
export const USER_TOKEN_PREFIX = 'hone_';

export interface UserInfo {
  username: string;
  admin: boolean;
  active: boolean;
  createdAt: string;
}

/** POST /auth/login. Throttled per user and client address (429 RESOURCE_EXHAUSTED with Retry-After). */
export interface LoginBody {
  username: string;
  password: string;
}
export interface LoginResult {
  token: string;
  expiresAt: string;
  user: UserInfo;
}

/** POST /users (admin). Without a password the master generates one and returns it once. */
export interface CreateUserBody {
  username: string;
  password?: string;
  admin?: boolean;
}
export interface CreateUserResult {
  user: UserInfo;
  /** Only when the master generated it. */
  password?: string;
}

/** PATCH /users/:username (admin): deactivate or reactivate, grant or remove admin, reset the password. */
export interface PatchUserBody {
  active?: boolean;
  admin?: boolean;
  password?: string;
}

/** POST /users/me/password: any user changes their own password. */
export interface ChangePasswordBody {
  oldPassword: string;
  newPassword: string;
}

/** POST /tokens: a long-lived access token of the signed-in user. */
export interface CreateTokenBody {
  description: string;
  /** Seconds until it expires; absent: never. */
  expiresInSeconds?: number;
}
export interface TokenInfo {
  id: number;
  username: string;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
}
export interface CreateTokenResult extends TokenInfo {
  /** The secret, shown once. */
  token: string;
}

/** One audited action on an experiment (GET /experiments/:id → `audit`). */
export interface AuditEntry {
  at: string;
  username: string;
  /** create, pause, activate, kill, delete, set priority|weight|max_slots, ... */
  action: string;
  details: Record<string, unknown>;
}

/** GET /master (open): what a client needs before signing in. */
export interface MasterInfo {
  version: string;
  database: string;
  authRequired: true;
  codes: Record<string, number>;
}

/**
 * Where the CLI keeps its tokens, one per master URL: `$HONE_AUTH_FILE`, else `~/.hone/auth.json`, mode 0600.
 * `hone user login` writes it, `logout` removes the entry, `npm start` writes the local admin's session for the
 * local master's URL. `HONE_TOKEN` (or `--token`) overrides it.
 */
export interface AuthFile {
  version: 1;
  /** Keyed by the master URL as the user gives it, without a trailing slash. */
  masters: Record<string, { token: string; username: string }>;
}
