import { useEffect, useMemo, useRef, useState } from 'react';
import type { ExperimentState, ExperimentSummary, Page } from '@hone/protocol';
import { useApi, useNow, useSubscription, useThrottle, markReady } from '../hooks';
import { Link, navigate, setQuery, useLocation } from '../router';
import { formatDuration, formatLocalTime, formatMetric } from '@hone/protocol/format';
import { Progress, StateBadge } from '../components/StateBadge';
import { ExperimentActions } from '../components/ExperimentActions';
import { StateChips } from '../components/StateChips';
import { EmptyRow } from '../components/EmptyRow';
import { ProjectSelect } from '../components/ProjectSelect';
import { RunsView } from './Runs';
import '../mgmt.css';

const STATES: ExperimentState[] = ['ACTIVE', 'PAUSED', 'STOPPING_COMPLETED', 'STOPPING_CANCELED', 'COMPLETED', 'CANCELED', 'ERROR', 'DELETING', 'DELETE_FAILED'];
// Mirrors SEARCHER_NAMES in protocol/src/config.ts (a value import would bundle the YAML parser and TypeBox).
const SEARCHER_NAMES = ['single', 'random', 'grid', 'async_halving', 'adaptive_asha', 'bayesian'] as const;
const SORTS = ['id', 'name', 'state', 'startTime', 'bestMetric', 'numTrials', 'progress'] as const;

interface Col {
  key: string;
  title: string;
  sort?: (typeof SORTS)[number];
  cls?: string;
  render: (e: ExperimentSummary, now: number) => React.ReactNode;
}

const COLUMNS: Col[] = [
  { key: 'id', title: 'ID', sort: 'id', cls: 'num w-id', render: (e) => <Link to={`/experiments/${e.id}`}>{e.id}</Link> },
  {
    key: 'name',
    title: 'Name',
    sort: 'name',
    cls: 'w-name',
    render: (e) => (
      <>
        <Link to={`/experiments/${e.id}`} className="strong">{e.name}</Link>
        {e.archived && <span className="badge badge-archived" data-testid="archived-badge"> archived</span>}
      </>
    ),
  },
  { key: 'project', title: 'Project', render: (e) => (e.project ? <Link to={`/projects/${encodeURIComponent(e.project)}`}>{e.project}</Link> : '–') },
  { key: 'state', title: 'State', sort: 'state', render: (e) => <StateBadge state={e.state} /> },
  { key: 'progress', title: 'Progress', sort: 'progress', render: (e) => <Progress value={e.progress} /> },
  { key: 'trials', title: 'Trials', sort: 'numTrials', cls: 'num', render: (e) => <span title={Object.entries(e.trialStates).map(([k, v]) => `${k}: ${v}`).join(', ')}>{e.numTrials}</span> },
  { key: 'searcher', title: 'Searcher', render: (e) => e.searcher },
  { key: 'best', title: 'Best metric', sort: 'bestMetric', cls: 'num', render: (e) => <span title={`${e.metric} (${e.smallerIsBetter ? 'min' : 'max'})`}>{formatMetric(e.bestMetric)}</span> },
  { key: 'user', title: 'Owner', render: (e) => <span data-testid="owner">{e.user}</span> },
  { key: 'start', title: 'Start time', sort: 'startTime', cls: 'nowrap', render: (e) => formatLocalTime(e.startTime) },
  { key: 'duration', title: 'Duration', cls: 'num nowrap', render: (e, now) => formatDuration(e.startTime, e.endTime, now) },
  { key: 'pool', title: 'Pool', render: (e) => e.resourcePool },
];

/** The experiments page: experiments (paged) or, with ?view=runs, the runs-first list of trials. */
export function ExperimentsPage() {
  const { query } = useLocation();
  const runs = query.get('view') === 'runs';
  return (
    <div className="page" data-testid="experiments-page">
      <div className="page-head">
        <h1>{runs ? 'Runs' : 'Experiments'}</h1>
        <span className="view-switch" data-testid="view-switch">
          <Link to="/experiments" className={runs ? '' : 'active'} data-view="experiments">
            Experiments
          </Link>
          <Link to="/experiments?view=runs" className={runs ? 'active' : ''} data-view="runs">
            Runs
          </Link>
        </span>
      </div>
      {runs ? <RunsView /> : <ExperimentsList />}
    </div>
  );
}

/** Experiments, one page at a time; `project` fixes the project (a project's page). */
export function ExperimentsList({ project: fixedProject }: { project?: string } = {}) {
  const { query } = useLocation();
  const sort = (SORTS as readonly string[]).includes(query.get('sort') ?? '') ? query.get('sort')! : 'id';
  const order = query.get('order') === 'asc' ? 'asc' : 'desc';
  const states = (query.get('state') ?? '').split(',').filter((s) => (STATES as string[]).includes(s));
  const name = query.get('name') ?? '';
  const searcher = query.get('searcher') ?? '';
  const limit = [10, 25, 50, 100].includes(Number(query.get('limit'))) ? Number(query.get('limit')) : 25;
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const project = fixedProject ?? query.get('project') ?? '';
  const archived = query.get('archived') === '1';

  const apiPath = useMemo(() => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(limit), sort, order });
    if (states.length) q.set('state', states.join(','));
    if (name) q.set('name', name);
    if (searcher) q.set('searcher', searcher);
    if (project) q.set('project', project);
    if (archived) q.set('archived', 'all');
    return `/experiments?${q}`;
    // the joined state list stands in for the array, which is new on every render
  }, [offset, limit, sort, order, states.join(','), name, searcher, project, archived]);

  const { data, error, loading, reload, setData } = useApi<Page<ExperimentSummary>>(apiPath);
  const now = useNow(5000);
  // An update for an experiment on this page is patched in place; anything else (a new experiment, a state
  // that moves a row across a filter) triggers at most one refetch every 3 s.
  const refetch = useThrottle(reload, 3000);
  const shownIds = useRef(new Set<number>());
  shownIds.current = new Set(data?.items.map((x) => x.id));
  useSubscription('experiments', (m) => {
    if (m.type !== 'experiment') return;
    const e = m.experiment;
    const onPage = shownIds.current.has(e.id);
    if (onPage) setData((d) => d && { ...d, items: d.items.map((x) => (x.id === e.id ? e : x)) });
    // A row may now sort elsewhere or leave the filter, or a new experiment may belong on this page.
    if (!onPage || sort !== 'id' || states.length > 0 || name !== '' || searcher !== '' || project !== '' || e.archived !== archived) refetch();
  });

  const [nameInput, setNameInput] = useState(name);
  useEffect(() => setNameInput(name), [name]);
  useEffect(() => {
    if (nameInput === name) return;
    const t = setTimeout(() => setQuery({ name: nameInput, offset: null }, { replace: true }), 300);
    return () => clearTimeout(t);
    // only when the input changes; the URL value syncs back through the effect above
  }, [nameInput]);

  useEffect(() => {
    if (data) markReady();
  }, [data]);

  const toggleState = (s: string) => {
    const next = states.includes(s) ? states.filter((x) => x !== s) : [...states, s];
    setQuery({ state: next.join(','), offset: null });
  };
  const onSort = (key: string) => {
    if (sort === key) setQuery({ order: order === 'asc' ? 'desc' : 'asc', offset: null });
    else setQuery({ sort: key, order: key === 'name' || key === 'state' ? 'asc' : 'desc', offset: null });
  };

  const total = data?.total ?? 0;
  return (
    <div data-testid="experiments-list">
      <div className="toolbar" data-testid="filters">
        <span className="muted" data-testid="experiments-total">{data ? `${total} total` : ''}</span>
        <input className="input" placeholder="Filter by name" value={nameInput} onChange={(e) => setNameInput(e.target.value)} data-testid="filter-name" />
        <select className="input" value={searcher} onChange={(e) => setQuery({ searcher: e.target.value, offset: null })} data-testid="filter-searcher">
          <option value="">All searchers</option>
          {SEARCHER_NAMES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        {fixedProject === undefined && <ProjectSelect value={project} onChange={(p) => setQuery({ project: p, offset: null })} testId="filter-project" />}
        <label className="field" title="Archived experiments are hidden unless this is on">
          <input type="checkbox" checked={archived} onChange={(e) => setQuery({ archived: e.target.checked ? '1' : null, offset: null })} data-testid="show-archived" /> Show archived
        </label>
        <StateChips states={STATES} selected={states} onToggle={toggleState} testId="filter-state" />
        {(states.length > 0 || name || searcher || (project && fixedProject === undefined) || archived) && (
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => navigate(location.pathname)}>
            Clear filters
          </button>
        )}
      </div>
      {error && <div className="error-box">Could not load experiments: {error.message}</div>}
      <div className="table-wrap">
        <table className="table" data-testid="experiments-table" data-loading={loading ? 'true' : undefined}>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th
                  key={c.key}
                  className={`${c.cls ?? ''}${c.sort ? ' sortable' : ''}${c.sort === sort ? ' sorted' : ''}`}
                  data-col={c.key}
                  aria-sort={c.sort === sort ? (order === 'asc' ? 'ascending' : 'descending') : undefined}
                  onClick={c.sort ? () => onSort(c.sort!) : undefined}
                >
                  {c.title}
                  {c.sort === sort && <span className="sort-ind">{order === 'asc' ? '▲' : '▼'}</span>}
                </th>
              ))}
              <th className="w-actions">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((e) => (
              <tr key={e.id} data-experiment-id={e.id} data-state={e.state} data-archived={e.archived ? 'true' : undefined}>
                {COLUMNS.map((c) => (
                  <td key={c.key} className={c.cls}>
                    {c.render(e, now)}
                  </td>
                ))}
                <td className="w-actions">
                  <ExperimentActions exp={e} compact onDone={(x) => (setData((d) => d && { ...d, items: d.items.map((i) => (i.id === x.id ? x : i)) }), refetch())} />
                </td>
              </tr>
            ))}
            {data && data.items.length === 0 && (
              <EmptyRow columns={COLUMNS.length + 1}>No experiments match these filters.</EmptyRow>
            )}
            {!data && !error && (
              <EmptyRow columns={COLUMNS.length + 1}>Loading…</EmptyRow>
            )}
          </tbody>
        </table>
      </div>
      <div className="pager" data-testid="pager">
        <span className="muted">
          {total === 0 ? '0' : `${offset + 1}–${Math.min(total, offset + limit)}`} of {total}
        </span>
        <button type="button" className="btn btn-sm" disabled={offset === 0} onClick={() => setQuery({ offset: Math.max(0, offset - limit) || null })}>
          ‹ Prev
        </button>
        <button type="button" className="btn btn-sm" disabled={offset + limit >= total} onClick={() => setQuery({ offset: offset + limit })} data-testid="next-page">
          Next ›
        </button>
        <select className="input input-sm" value={limit} onChange={(e) => setQuery({ limit: e.target.value, offset: null })}>
          {[10, 25, 50, 100].map((n) => (
            <option key={n} value={n}>
              {n} / page
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}
