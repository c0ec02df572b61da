// REST client for /api/v1. One place handles the bearer token and the 401 → login flow.
// HoneError comes from its own file, not the protocol index, so the bundle does not pull in TypeBox and yaml.
import { HoneError } from '@hone/protocol/errors';

const TOKEN_KEY = 'hone.token';

type AuthListener = (needed: boolean) => void;
const authListeners = new Set<AuthListener>();
let authNeeded = false;

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives for this page only */
  }
}

export function onAuthNeeded(l: AuthListener): () => void {
  authListeners.add(l);
  l(authNeeded);
  return () => authListeners.delete(l);
}

function setAuthNeeded(v: boolean): void {
  if (authNeeded === v) return;
  authNeeded = v;
  for (const l of authListeners) l(v);
}

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
  return apiResponse<T>(await fetch(`/api/v1${path}`, { ...init, headers, body }));
}

/** Turns a response into data or a HoneError, handling 401 (used for prefetched responses too). */
export async function apiResponse<T>(res: Response): Promise<T> {
  if (res.status === 401) {
    setToken(null);
    setAuthNeeded(true);
  }
  if (!res.ok) {
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    throw HoneError.fromResponse(res.status, body, res.statusText || `request failed (${res.status})`);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export async function login(username: string, password: string): Promise<void> {
  const { token } = await api<{ token: string }>('/auth/login', { method: 'POST', json: { username, password } });
  setToken(token);
  setAuthNeeded(false);
}

/** Saves a download that may need the bearer token (a plain link cannot send headers). */
export async function download(path: string, filename: string): Promise<void> {
  const res = await fetch(`/api/v1${path}`, { headers: authHeaders() });
  if (res.status === 401) setAuthNeeded(true);
  if (!res.ok) throw HoneError.fromResponse(res.status, undefined, `download failed (${res.status})`);
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
