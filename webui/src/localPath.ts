// Where the login page may send someone after signing in.
/**
 * `next` (a `/login?next=` value) as a path of this site, or null: anything that would leave the origin
 * (`//evil.example`, `https://…`, `javascript:`) is refused, so the login page cannot be used to send people away.
 */
export function safeLocalPath(next: string | null | undefined, origin: string): string | null {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return null;
  try {
    const u = new URL(next, origin);
    if (u.origin !== origin || u.pathname === '/login') return null;
    return u.pathname + u.search + u.hash;
  } catch {
    return null;
  }
}
