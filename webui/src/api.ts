// REST client for /api/v1. One place holds the bearer token and turns a 401 into "sign in again".
// HoneError comes from its own file, not the protocol index, so the bundle does not pull in TypeBox and yaml.
import { HoneError } from '@hone/protocol/errors';
import type { LoginResult } from '@hone/protocol/auth';

/** localStorage keys; index.html's boot script (public/boot.js) reads the token too. */
export const TOKEN_KEY = 'hone.token';
const USERNAME_KEY = 'hone.username';
/** The signed-in user as /auth/me or the login last said, kept with the token (session.ts). */
export const USER_KEY = 'hone.user';

/** Why the login form is up: never signed in here, the master refused the token (expired, revoked), or signed out. */
export type AuthReason = 'none' | 'expired' | 'signed-out';
export interface AuthState {
  needed: boolean;
  reason: AuthReason;
}

type AuthListener = (s: AuthState) => void;
const authListeners = new Set<AuthListener>();
let authState: AuthState = { needed: false, reason: 'none' };
/**
 * Bumped whenever the token changes. A request answered 401 only signs the user out when it was sent with the
 * current token: a request still in flight from before a login must not bring the login form back.
 */
let generation = 0;

/** A HoneError of a throttled request carries how long to wait (Retry-After), in seconds. */
export type ApiError = HoneError & { retryAfterS?: number };

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return memoryToken;
  }
}

let memoryToken: string | null = null;
function setToken(token: string | null): void {
  generation++;
  memoryToken = token;
  try {
    localStorage.removeItem(USER_KEY);
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives for this page only */
  }
}

/** Remembers who is signed in, so that the form asks only for the password when their session ends. */
export function rememberUsername(username: string): void {
  try {
    localStorage.setItem(USERNAME_KEY, username);
  } catch {
    /* storage disabled */
  }
}

/** The user name last signed in with on this browser, to fill in the form. */
export function lastUsername(): string {
  try {
    return localStorage.getItem(USERNAME_KEY) ?? '';
  } catch {
    return '';
  }
}

export function authStatus(): AuthState {
  return authState;
}

export function onAuthChange(l: AuthListener): () => void {
  authListeners.add(l);
  return () => authListeners.delete(l);
}

function setAuth(needed: boolean, reason: AuthReason): void {
  if (authState.needed === needed && authState.reason === reason) return;
  authState = { needed, reason };
  for (const l of [...authListeners]) l(authState);
}

/** No token stored: the login form comes up at once, without a request that would only be refused. */
if (!getToken()) authState = { needed: true, reason: 'none' };

// Another tab signed in or out: follow it (the token is shared through localStorage).
if (typeof window !== 'undefined')
  window.addEventListener('storage', (e) => {
    if (e.key !== TOKEN_KEY && e.key !== null) return;
    generation++;
    const t = getToken();
    if (!t) setAuth(true, 'signed-out');
    else if (authState.needed) setAuth(false, 'none');
  });

export function authHeaders(): Record<string, string> {
  const t = getToken();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(), ...(init.headers as Record<string, string>) };
  let body = init.body;
  if (init.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const sent = generation;
  return apiResponse<T>(await fetch(`/api/v1${path}`, { ...init, headers, body }), sent);
}

/** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(h: string | null, now = Date.now()): number | undefined {
  if (!h) return undefined;
  const s = h.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, Math.ceil((t - now) / 1000)) : undefined;
}

/** A 401 answer to a request sent with the current token: the session is over, the login form comes back. */
function unauthenticated(sent: number): void {
  if (sent !== generation) return;
  const had = getToken() !== null;
  setToken(null);
  setAuth(true, had ? 'expired' : 'none');
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const err: ApiError = HoneError.fromResponse(res.status, body, res.statusText || `request failed (${res.status})`);
  if (res.status === 429 || res.status === 503) err.retryAfterS = parseRetryAfter(res.headers.get('Retry-After'));
  return err;
}

/**
 * Turns a response into data or an ApiError, handling 401 (used for prefetched responses too). `sent` is the
 * token generation the request went out with (default: the current one).
 */
export async function apiResponse<T>(res: Response, sent = generation): Promise<T> {
  if (res.status === 401) unauthenticated(sent);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/**
 * POST /auth/login. A refusal (wrong password: 401, throttled: 429 with `retryAfterS`) is thrown with the
 * master's message and does not touch the current session.
 */
export async function login(username: string, password: string): Promise<LoginResult> {
  const res = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const result = (await res.json()) as LoginResult;
  setToken(result.token);
  rememberUsername(result.user?.username ?? username);
  setAuth(false, 'none');
  return result;
}

/** POST /auth/logout (revokes the session on the master, best effort), then forgets the token here. */
export async function logout(): Promise<void> {
  const headers = authHeaders();
  setToken(null);
  setAuth(true, 'signed-out');
  if (!headers.Authorization) return;
  try {
    await fetch('/api/v1/auth/logout', { method: 'POST', headers });
  } catch {
    /* the master is unreachable: the token is gone from this browser all the same */
  }
}

/** Saves a download that may need the bearer token (a plain link cannot send headers). */
export async function download(path: string, filename: string): Promise<void> {
  const sent = generation;
  const res = await fetch(`/api/v1${path}`, { headers: authHeaders() });
  if (res.status === 401) unauthenticated(sent);
  if (!res.ok) throw await errorOf(res);
  saveBlob(await res.blob(), filename);
}

export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
