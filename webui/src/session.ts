// The signed-in user (GET /auth/me, or the user a login returned), for the user menu and the permission checks.
// null while unknown: the UI then leaves every action enabled and lets the master decide. It is kept in
// localStorage with the token, so a page load knows it at once and asks /auth/me only after the page is drawn
// (off the path of the requests the page waits for).
import { useSyncExternalStore } from 'react';
import type { UserInfo } from '@hone/protocol/auth';
import { TOKEN_KEY, USER_KEY, api, authStatus, getToken, login as apiLogin, logout as apiLogout, onAuthChange, rememberUsername } from './api';

function cachedUser(): UserInfo | null {
  try {
    const raw = getToken() ? localStorage.getItem(USER_KEY) : null;
    const u = raw ? (JSON.parse(raw) as UserInfo) : null;
    return u && typeof u.username === 'string' && typeof u.admin === 'boolean' ? u : null;
  } catch {
    return null;
  }
}

let user: UserInfo | null = cachedUser();
const listeners = new Set<() => void>();

function setUser(u: UserInfo | null): void {
  if (u === user) return;
  user = u;
  if (u) rememberUsername(u.username);
  try {
    if (u && getToken()) localStorage.setItem(USER_KEY, JSON.stringify(u));
  } catch {
    /* storage disabled */
  }
  for (const l of [...listeners]) l();
}

export function currentUser(): UserInfo | null {
  return user;
}

export function useCurrentUser(): UserInfo | null {
  return useSyncExternalStore(
    (l) => (listeners.add(l), () => listeners.delete(l)),
    () => user,
  );
}

let loading: Promise<void> | null = null;
/** Asks the master who the token belongs to; a 401 brings the login form back (api.ts). */
export function loadCurrentUser(): Promise<void> {
  if (!getToken()) return Promise.resolve();
  loading ??= api<UserInfo>('/auth/me').then(
    // The same user with the same rights keeps its object, so nothing re-renders.
    (u) => setUser(user && u.username === user.username && u.admin === user.admin && u.active === user.active ? user : u),
    () => undefined,
  ).finally(() => (loading = null));
  return loading;
}

export async function signIn(username: string, password: string): Promise<UserInfo> {
  const r = await apiLogin(username, password);
  setUser(r.user);
  return r.user;
}

export async function signOut(): Promise<void> {
  setUser(null);
  await apiLogout();
}

onAuthChange((s) => {
  if (s.needed) setUser(null);
});
// Another tab signed in as someone else: ask again.
if (typeof window !== 'undefined')
  window.addEventListener('storage', (e) => {
    if ((e.key === TOKEN_KEY || e.key === null) && !authStatus().needed) void loadCurrentUser();
  });
