// The sign-in form. It takes the place of the page whose request was refused (401) or that was opened without a
// token, and leaves the URL alone, so signing in shows that very page again (path, tab and query string).
import { useEffect, useState } from 'react';
import { lastUsername, type ApiError, type AuthReason } from '../api';
import { signIn } from '../session';

const REASONS: Partial<Record<AuthReason, string>> = {
  expired: 'Your session has ended. Sign in again to continue.',
  'signed-out': 'You have signed out.',
};

export function LoginForm({ reason, onSignedIn }: { reason: AuthReason; onSignedIn?: () => void }) {
  const [username, setUsername] = useState(lastUsername);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Throttled (429): the form stays disabled until Retry-After has passed, counting down.
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (retryAt === null) return;
    const t = setInterval(() => {
      const n = Date.now();
      setNow(n);
      if (n >= retryAt) setRetryAt(null);
    }, 250);
    return () => clearInterval(t);
  }, [retryAt]);
  const waitS = retryAt === null ? 0 : Math.max(0, Math.ceil((retryAt - now) / 1000));

  return (
    <form
      className="login card"
      data-testid="login-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (busy || waitS > 0) return;
        setBusy(true);
        setError(null);
        try {
          await signIn(username.trim(), password);
          onSignedIn?.();
        } catch (err) {
          const ae = err as ApiError;
          setError(ae.message || 'Could not sign in.');
          if (ae.status === 429 && ae.retryAfterS !== undefined) {
            setNow(Date.now());
            setRetryAt(Date.now() + ae.retryAfterS * 1000);
          }
          setPassword('');
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Sign in to Hone</h2>
      {REASONS[reason] && (
        <div className="info-box" data-testid="login-reason">
          {REASONS[reason]}
        </div>
      )}
      <label>
        Username
        <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" autoFocus={!username} required data-testid="login-username" />
      </label>
      <label>
        Password
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" autoFocus={!!username} data-testid="login-password" />
      </label>
      {error && (
        <div className="error-box" role="alert" data-testid="login-error">
          {error}
          {waitS > 0 && (
            <div className="retry" data-testid="login-retry" data-seconds={waitS}>
              You can try again in {waitS} s.
            </div>
          )}
        </div>
      )}
      <button className="btn btn-primary" type="submit" disabled={busy || waitS > 0 || !username.trim()} data-testid="login-submit">
        {busy ? 'Signing in…' : waitS > 0 ? `Wait ${waitS} s` : 'Sign in'}
      </button>
    </form>
  );
}
