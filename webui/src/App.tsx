import { useEffect, useState } from 'react';
import { authStatus, onAuthChange, type AuthState } from './api';
import { Link, navigate, useLocation } from './router';
import { safeLocalPath } from './localPath';
import { loadCurrentUser } from './session';
import { afterReady } from './hooks';
import { stream, type StreamStatus } from './stream';
import { LoginForm } from './pages/Login';
import { UserMenu } from './components/UserMenu';
import { Toasts } from './components/Toasts';
import { ExperimentsPage } from './pages/Experiments';
import { ExperimentPage } from './pages/Experiment';
import { TrialPage } from './pages/Trial';
import { ClusterPage } from './pages/Cluster';
import { ComparePage } from './pages/Compare';
import { ProjectPage, ProjectsPage } from './pages/Projects';
import { ModelPage, ModelsPage } from './pages/Models';
import { CompareBar } from './components/CompareBar';
import { ForecastPage } from './pages/Forecast';

/** A path segment as written (`%2F` and the like decoded); undefined when it is not valid percent-encoding. */
function segment(s: string | undefined): string | undefined {
  try {
    return s === undefined ? undefined : decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function route(path: string): { page: string; id?: number; tab?: string; name?: string } {
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return { page: 'root' };
  if (parts[0] === 'experiments' && parts.length === 1) return { page: 'experiments' };
  if (parts[0] === 'experiments' && /^\d+$/.test(parts[1] ?? '')) return { page: 'experiment', id: Number(parts[1]), tab: parts[2] };
  if (parts[0] === 'trials' && /^\d+$/.test(parts[1] ?? '')) return { page: 'trial', id: Number(parts[1]), tab: parts[2] };
  if (parts[0] === 'cluster') return { page: 'cluster' };
  if (parts[0] === 'compare' && parts.length === 1) return { page: 'compare' };
  if (parts[0] === 'projects' && parts.length === 1) return { page: 'projects' };
  if (parts[0] === 'projects' && parts.length === 2 && segment(parts[1])) return { page: 'project', name: segment(parts[1]) };
  if (parts[0] === 'models' && parts.length === 1) return { page: 'models' };
  if (parts[0] === 'models' && parts.length === 2 && segment(parts[1])) return { page: 'model', name: segment(parts[1]) };
  if (parts[0] === 'forecast' && parts.length === 1) return { page: 'forecast' };
  if (parts[0] === 'login' && parts.length === 1) return { page: 'login' };
  return { page: 'notfound' };
}

function ConnectionDot() {
  const [s, setS] = useState<StreamStatus>(stream.status);
  useEffect(() => stream.onStatus(setS), []);
  const label = s === 'open' ? 'live' : s === 'connecting' ? 'connecting…' : 'reconnecting…';
  return (
    <span className={`conn conn-${s}`} data-testid="connection" data-status={s} title="Live updates">
      <span className="conn-dot" /> {label}
    </span>
  );
}

/**
 * Signed out (no token, or the master answered 401): the login form takes the page's place and the URL stays
 * as it is, so signing in shows the page that was asked for, query string included. `/login` itself (where
 * signing out lands) goes on to `?next=` or the experiments.
 */
function useAuth(): { auth: AuthState; epoch: number } {
  const [auth, setAuth] = useState<AuthState>(authStatus);
  // After a login the page content remounts (keyed by epoch) so every view refetches with the new token.
  const [epoch, setEpoch] = useState(0);
  useEffect(() => {
    let was = authStatus().needed;
    if (was) stream.pause();
    // Who is signed in is known from the last visit; the master is asked once the page has drawn.
    else afterReady(() => void loadCurrentUser());
    const off = onAuthChange((s) => {
      setAuth(s);
      if (s.needed && !was) {
        stream.pause();
        // The page behind the form is gone; it is drawn again (and marked ready again) after the login.
        document.body.dataset.ready = '';
      }
      if (was && !s.needed) {
        setEpoch((e) => e + 1);
        stream.reconnectNow();
        afterReady(() => void loadCurrentUser());
      }
      was = s.needed;
    });
    setAuth(authStatus());
    return off;
  }, []);
  return { auth, epoch };
}

export function App() {
  const { path, query } = useLocation();
  const { auth, epoch } = useAuth();
  const r = route(path);
  const next = query.get('next');
  useEffect(() => {
    if (r.page === 'root') navigate('/experiments', { replace: true });
    else if (r.page === 'login' && !auth.needed) navigate(safeLocalPath(next, location.origin) ?? '/experiments', { replace: true });
  }, [r.page, auth.needed, next]);

  let content: React.ReactNode = null;
  if (r.page === 'experiments') content = <ExperimentsPage />;
  else if (r.page === 'experiment') content = <ExperimentPage key={r.id} id={r.id!} tab={r.tab ?? 'curves'} />;
  else if (r.page === 'trial') content = <TrialPage key={r.id} id={r.id!} tab={r.tab ?? 'overview'} />;
  else if (r.page === 'cluster') content = <ClusterPage />;
  else if (r.page === 'compare') content = <ComparePage />;
  else if (r.page === 'projects') content = <ProjectsPage />;
  else if (r.page === 'project') content = <ProjectPage key={r.name} name={r.name!} />;
  else if (r.page === 'models') content = <ModelsPage />;
  else if (r.page === 'model') content = <ModelPage key={r.name} name={r.name!} />;
  else if (r.page === 'forecast') content = <ForecastPage />;
  else if (r.page === 'notfound')
    content = (
      <div className="page">
        <h1>Not found</h1>
        <p>
          No page at <code>{path}</code>. <Link to="/experiments">Go to experiments</Link>.
        </p>
      </div>
    );

  const section = r.page === 'cluster' ? 'cluster' : r.page === 'forecast' ? 'forecast' : r.page === 'projects' || r.page === 'project' ? 'projects' : r.page === 'models' || r.page === 'model' ? 'models' : 'experiments';
  const signedIn = !auth.needed;
  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/experiments" className="brand">
          <span className="brand-mark">◆</span> Hone
        </Link>
        {signedIn && (
          <nav>
            <Link to="/experiments" className={section === 'experiments' ? 'active' : ''}>
              Experiments
            </Link>
            <Link to="/projects" className={section === 'projects' ? 'active' : ''}>
              Projects
            </Link>
            <Link to="/models" className={section === 'models' ? 'active' : ''}>
              Models
            </Link>
            <Link to="/cluster" className={section === 'cluster' ? 'active' : ''}>
              Cluster
            </Link>
            <Link to="/forecast" className={section === 'forecast' ? 'active' : ''}>
              Estimate
            </Link>
          </nav>
        )}
        <span className="spacer" />
        {signedIn && <ConnectionDot />}
        {signedIn && <UserMenu />}
      </header>
      <main className="main">{auth.needed ? <LoginForm key={auth.reason} reason={auth.reason} /> : <div key={epoch}>{content}</div>}</main>
      {signedIn && <CompareBar />}
      <Toasts />
    </div>
  );
}
