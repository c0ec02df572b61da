import { useEffect, useState } from 'react';
import { onAuthNeeded } from './api';
import { Link, navigate, useLocation } from './router';
import { stream, type StreamStatus } from './stream';
import { LoginForm } from './pages/Login';
import { ExperimentsPage } from './pages/Experiments';
import { ExperimentPage } from './pages/Experiment';
import { TrialPage } from './pages/Trial';
import { ClusterPage } from './pages/Cluster';

function route(path: string): { page: string; id?: number; tab?: string } {
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return { page: 'root' };
  if (parts[0] === 'experiments' && parts.length === 1) return { page: 'experiments' };
  if (parts[0] === 'experiments' && /^\d+$/.test(parts[1] ?? '')) return { page: 'experiment', id: Number(parts[1]), tab: parts[2] };
  if (parts[0] === 'trials' && /^\d+$/.test(parts[1] ?? '')) return { page: 'trial', id: Number(parts[1]), tab: parts[2] };
  if (parts[0] === 'cluster') return { page: 'cluster' };
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

export function App() {
  const { path } = useLocation();
  const [authNeeded, setAuthNeeded] = useState(false);
  const [authEpoch, setAuthEpoch] = useState(0);
  // After a successful login the page content remounts (keyed by authEpoch) so every view refetches.
  useEffect(() => {
    let was = false;
    return onAuthNeeded((n) => {
      setAuthNeeded(n);
      if (was && !n) {
        setAuthEpoch((e) => e + 1);
        stream.reconnectNow();
      }
      was = n;
    });
  }, []);
  const r = route(path);
  useEffect(() => {
    if (r.page === 'root') navigate('/experiments', { replace: true });
  }, [r.page]);

  let content: React.ReactNode = null;
  if (r.page === 'experiments') content = <ExperimentsPage />;
  else if (r.page === 'experiment') content = <ExperimentPage key={r.id} id={r.id!} tab={r.tab ?? 'curves'} />;
  else if (r.page === 'trial') content = <TrialPage key={r.id} id={r.id!} tab={r.tab ?? 'overview'} />;
  else if (r.page === 'cluster') content = <ClusterPage />;
  else if (r.page === 'notfound')
    content = (
      <div className="page">
        <h1>Not found</h1>
        <p>
          No page at <code>{path}</code>. <Link to="/experiments">Go to experiments</Link>.
        </p>
      </div>
    );

  const section = r.page === 'cluster' ? 'cluster' : 'experiments';
  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/experiments" className="brand">
          <span className="brand-mark">◆</span> Hone
        </Link>
        <nav>
          <Link to="/experiments" className={section === 'experiments' ? 'active' : ''}>
            Experiments
          </Link>
          <Link to="/cluster" className={section === 'cluster' ? 'active' : ''}>
            Cluster
          </Link>
        </nav>
        <span className="spacer" />
        <ConnectionDot />
      </header>
      <main className="main">{authNeeded ? <LoginForm /> : <div key={authEpoch}>{content}</div>}</main>
    </div>
  );
}
