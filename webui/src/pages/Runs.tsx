// The runs-first list (Determined's "runs" view): trials across experiments, filtered by project, state,
// hyperparameter and metric ranges, sorted on the server, windowed both ways — only the rows in view are in the
// DOM, and only the windows of rows the user scrolls to are fetched (pages of PAGE), so 10,000 runs cost a first
// request of FIRST rows. The filters live in the query string (?view=runs&…), so a view is a link.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Page } from '@hone/protocol';
import { api } from '../api';
import { takePrefetched } from '../prefetch';
import { markReady, useNow, useSubscription, useThrottle } from '../hooks';
import { Link, navigate, setQuery, useLocation } from '../router';
import { formatDuration, formatLocalTime, formatMetric, formatValue } from '@hone/protocol/format';
import { flattenHParams } from '../format';
import { StateBadge } from '../components/StateBadge';
import { StateChips } from '../components/StateChips';
import { VirtualTable, type Column, type SortState } from '../components/VirtualTable';
import { compareColumn } from './trialColumns';
import { TrialActions } from '../components/TrialActions';
import { runsPath, type RunSummary, type RunsFilter } from '../mgmtApi';
import { ProjectSelect } from '../components/ProjectSelect';

const TRIAL_STATES = ['ACTIVE', 'PAUSED', 'STOPPING_COMPLETED', 'STOPPING_CANCELED', 'STOPPING_ERROR', 'COMPLETED', 'CANCELED', 'ERROR'];
/** The first request is small so the list is usable at once; later windows are bigger. */
export const FIRST = 100;
export const PAGE = 500;
const SORTS = new Set(['id', 'experimentId', 'state', 'bestValidation', 'trainedLength', 'startTime', 'endTime', 'restarts']);

/** Window 0 is rows [0, FIRST); window k ≥ 1 is rows [FIRST + (k−1)·PAGE, FIRST + k·PAGE). */
const windowStart = (k: number) => (k === 0 ? 0 : FIRST + (k - 1) * PAGE);
const windowSize = (k: number) => (k === 0 ? FIRST : PAGE);
const windowOf = (i: number) => (i < FIRST ? 0 : 1 + Math.floor((i - FIRST) / PAGE));

interface Windowed<T> {
  total: number | undefined;
  rows: Array<T | undefined>;
  error: Error | undefined;
  /** Fetch the rows [first, last) that are not loaded yet. */
  need: (first: number, last: number) => void;
  /** Refetch the windows loaded so far (live updates). */
  refresh: () => void;
  loading: boolean;
}

/** Rows of `base` (a path with its filters, no offset/limit) fetched window by window as they are needed. */
export function useWindowedPage<T>(base: string): Windowed<T> {
  const [state, setState] = useState<{ base: string; total: number | undefined; rows: Array<T | undefined>; error: Error | undefined }>({ base, total: undefined, rows: [], error: undefined });
  const inflight = useRef(new Set<number>());
  const loaded = useRef(new Set<number>());
  const gen = useRef(0);
  const sep = base.includes('?') ? '&' : '?';

  const fetchWindow = useCallback(
    (offset: number, limit: number) => {
      if (inflight.current.has(offset)) return;
      inflight.current.add(offset);
      const g = gen.current;
      const path = `${base}${sep}offset=${offset}&limit=${limit}`;
      // The first window of a page load may already be on its way (public/boot.js).
      (takePrefetched<Page<T>>(path) ?? api<Page<T>>(path)).then(
        (p) => {
          if (g !== gen.current) return;
          inflight.current.delete(offset);
          loaded.current.add(offset);
          setState((s) => {
            const rows = s.rows.length === p.total ? s.rows.slice() : Array.from({ length: p.total }, (_, i) => s.rows[i]);
            p.items.forEach((r, i) => (rows[offset + i] = r));
            return { base, total: p.total, rows, error: undefined };
          });
        },
        (e: Error) => {
          if (g !== gen.current) return;
          inflight.current.delete(offset);
          setState((s) => ({ ...s, error: e }));
        },
      );
    },
    [base, sep],
  );

  useEffect(() => {
    gen.current++;
    inflight.current = new Set();
    loaded.current = new Set();
    setState((s) => ({ base, total: s.base === base ? s.total : undefined, rows: [], error: undefined }));
    fetchWindow(0, FIRST);
  }, [base, fetchWindow]);

  const need = useCallback(
    (first: number, last: number) => {
      for (let k = windowOf(first); windowStart(k) < last; k++) if (!loaded.current.has(windowStart(k))) fetchWindow(windowStart(k), windowSize(k));
    },
    [fetchWindow],
  );

  const refresh = useCallback(() => {
    const offsets = [...loaded.current];
    loaded.current = new Set();
    for (const o of offsets) fetchWindow(o, windowSize(windowOf(o)));
  }, [fetchWindow]);

  const fresh = state.base === base;
  return { total: fresh ? state.total : undefined, rows: fresh ? state.rows : [], error: state.error, need, refresh, loading: !fresh || state.total === undefined };
}

/** The runs view's filters as the query string has them. */
export function runsFilterOf(query: URLSearchParams): RunsFilter {
  const num = (k: string) => {
    const v = query.get(k);
    return v === null || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
  };
  return {
    project: query.get('project') || undefined,
    states: (query.get('state') ?? '').split(',').filter((s) => TRIAL_STATES.includes(s)),
    hparam: query.get('hp') || undefined,
    hparamMin: num('hpmin'),
    hparamMax: num('hpmax'),
    metric: query.get('m') || undefined,
    metricMin: num('mmin'),
    metricMax: num('mmax'),
    archived: query.get('archived') === '1',
    sort: SORTS.has(query.get('sort') ?? '') || /^(hp|metric)\.\S+$/.test(query.get('sort') ?? '') ? query.get('sort')! : 'id',
    order: query.get('order') === 'asc' ? 'asc' : 'desc',
  };
}

/** The text inputs write the URL after a pause in typing, not on every key. */
function useDebouncedQuery(key: string, value: string): [string, (v: string) => void] {
  const [v, setV] = useState(value);
  useEffect(() => setV(value), [value]);
  useEffect(() => {
    if (v === value) return;
    const t = setTimeout(() => setQuery({ [key]: v }, { replace: true }), 400);
    return () => clearTimeout(t);
    // only when the input changes
  }, [v]);
  return [v, setV];
}

export function RunsView() {
  const { query } = useLocation();
  const f = runsFilterOf(query);
  const base = runsPath(f);
  const w = useWindowedPage<RunSummary>(base);
  const now = useNow(5000);
  const refresh = useThrottle(w.refresh, 5000);
  useSubscription('experiments', () => refresh());

  useEffect(() => {
    if (w.total !== undefined) markReady();
  }, [w.total]);

  // Hyperparameter columns: the keys of the first rows loaded (most common first), at most eight.
  const firstRows = w.rows.slice(0, FIRST);
  const hpKeys = useMemo(() => {
    const n = new Map<string, number>();
    for (const r of firstRows) if (r) for (const k of Object.keys(flattenHParams(r.hparams ?? {}))) n.set(k, (n.get(k) ?? 0) + 1);
    return [...n.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 8).map(([k]) => k);
    // recomputed when the first window arrives, not on every later window
  }, [firstRows[0]?.id, w.total, base]);

  // Metric names to offer in the metric filter: those of the first rows' latest validation.
  const metricKeys = useMemo(() => {
    const n = new Set<string>();
    for (const r of firstRows) if (r) for (const k of Object.keys(r.latestValidation ?? {})) n.add(k);
    return [...n].sort();
  }, [firstRows[0]?.id, w.total, base]);

  const cols = useMemo<Column<RunSummary>[]>(() => {
    const server = () => 0; // a sortValue makes the header clickable; the server sorts
    return [
      compareColumn<RunSummary>(),
      { key: 'id', title: 'Trial', width: 70, align: 'right', sortValue: server, render: (r) => <Link to={`/trials/${r.id}`}>{r.id}</Link> },
      {
        key: 'experimentId',
        title: 'Experiment',
        width: 190,
        sortValue: server,
        render: (r) => (
          <Link to={`/experiments/${r.experimentId}`} title={r.experimentName}>
            <span className="muted">#{r.experimentId}</span> {r.experimentName}
          </Link>
        ),
      },
      { key: 'project', title: 'Project', width: 110, render: (r) => (r.project ? <Link to={`/projects/${encodeURIComponent(r.project)}`}>{r.project}</Link> : '–') },
      { key: 'state', title: 'State', width: 110, sortValue: server, render: (r) => <StateBadge state={r.state} /> },
      { key: 'trainedLength', title: 'Length', width: 80, align: 'right', sortValue: server, render: (r) => formatValue(r.trainedLength) },
      { key: 'bestValidation', title: 'Best', titleText: "best validation value of each experiment's metric", width: 120, align: 'right', sortValue: server, render: (r) => <span title={r.metric ? `${r.metric} (${r.smallerIsBetter ? 'min' : 'max'})` : undefined}><b>{formatMetric(r.bestValidation)}</b> {r.metric && <span className="muted small">{r.metric}</span>}</span> },
      { key: 'actions', title: 'Actions', width: 90, render: (r) => <TrialActions trial={r} compact onDone={refresh} /> },
      // The key is the server's sort key (`hp.NAME`).
      ...hpKeys.map<Column<RunSummary>>((k) => ({ key: `hp.${k}`, title: k, width: Math.min(150, Math.max(80, k.length * 7 + 20)), align: 'right', sortValue: server, render: (r) => formatValue(flattenHParams(r.hparams ?? {})[k]) })),
      { key: 'startTime', title: 'Started', width: 150, sortValue: server, render: (r) => formatLocalTime(r.startTime) },
      { key: 'duration', title: 'Duration', width: 90, align: 'right', render: (r) => formatDuration(r.startTime, r.endTime, now) },
    ];
  }, [hpKeys, now, refresh]);

  const sort: SortState = { key: f.sort, desc: f.order === 'desc' };
  const onSort = (s: SortState) => setQuery({ sort: s.key, order: s.key === sort.key ? (sort.desc ? 'asc' : 'desc') : s.key === 'state' ? 'asc' : 'desc' }, { replace: true });
  const toggleState = (s: string) => setQuery({ state: (f.states.includes(s) ? f.states.filter((x) => x !== s) : [...f.states, s]).join(',') }, { replace: true });

  const [hp, setHp] = useDebouncedQuery('hp', f.hparam ?? '');
  const [hpmin, setHpmin] = useDebouncedQuery('hpmin', f.hparamMin?.toString() ?? '');
  const [hpmax, setHpmax] = useDebouncedQuery('hpmax', f.hparamMax?.toString() ?? '');
  const [m, setM] = useDebouncedQuery('m', f.metric ?? '');
  const [mmin, setMmin] = useDebouncedQuery('mmin', f.metricMin?.toString() ?? '');
  const [mmax, setMmax] = useDebouncedQuery('mmax', f.metricMax?.toString() ?? '');
  const filtered = f.project || f.states.length || f.hparam || f.metric || f.archived;

  return (
    <div data-testid="runs-view">
      <div className="toolbar runs-toolbar" data-testid="runs-filters">
        <ProjectSelect value={f.project ?? ''} onChange={(p) => setQuery({ project: p }, { replace: true })} testId="runs-project" />
        <span className="range" title="hyperparameter range (a number or, with min = max, a value)">
          <input className="input" placeholder="hparam" value={hp} onChange={(e) => setHp(e.target.value)} data-testid="runs-hp" list="runs-hp-keys" />
          <datalist id="runs-hp-keys">
            {hpKeys.map((k) => (
              <option key={k} value={k} />
            ))}
          </datalist>
          <input className="input" placeholder="min" value={hpmin} onChange={(e) => setHpmin(e.target.value)} data-testid="runs-hp-min" />
          <input className="input" placeholder="max" value={hpmax} onChange={(e) => setHpmax(e.target.value)} data-testid="runs-hp-max" />
        </span>
        <span className="range" title="validation metric range (latest value)">
          <input className="input" placeholder="metric" value={m} onChange={(e) => setM(e.target.value)} data-testid="runs-metric" list="runs-metric-keys" />
          <datalist id="runs-metric-keys">
            {metricKeys.map((k) => (
              <option key={k} value={k} />
            ))}
          </datalist>
          <input className="input" placeholder="min" value={mmin} onChange={(e) => setMmin(e.target.value)} data-testid="runs-metric-min" />
          <input className="input" placeholder="max" value={mmax} onChange={(e) => setMmax(e.target.value)} data-testid="runs-metric-max" />
        </span>
        <label className="field">
          <input type="checkbox" checked={f.archived} onChange={(e) => setQuery({ archived: e.target.checked ? '1' : null }, { replace: true })} data-testid="runs-archived" /> Show archived
        </label>
        <StateChips states={TRIAL_STATES} selected={f.states} onToggle={toggleState} testId="runs-state" />
        {filtered && (
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => navigate('/experiments?view=runs')}>
            Clear filters
          </button>
        )}
        <span className="spacer" />
        <span className="muted" data-testid="runs-total">
          {w.total === undefined ? '' : `${w.total} runs`}
        </span>
      </div>
      {w.error && <div className="error-box">Could not load runs: {w.error.message}</div>}
      <VirtualTable
        rows={w.rows}
        columns={cols}
        rowKey={(r) => r.id}
        height="calc(100vh - 220px)"
        sort={sort}
        onSort={onSort}
        testId="runs-table"
        empty={w.total === undefined ? 'Loading…' : 'No runs match these filters.'}
        onVisibleRange={w.need}
      />
    </div>
  );
}
