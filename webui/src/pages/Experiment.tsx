import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ExperimentDetail, ExperimentSummary, TrialSummary } from '@hone/protocol';
import { useApi, useNow, useSubscription, useThrottle, markReady } from '../hooks';
import { Link } from '../router';
import { formatDuration, formatLocalTime, formatMetric } from '@hone/protocol/format';
import { Progress, StateBadge } from '../components/StateBadge';
import { ExperimentActions } from '../components/ExperimentActions';
import { CurvesTab } from './ExperimentCurves';
import { curvesPath } from '../curves';
import { prefetch } from '../prefetch';
import { TrialsTab } from './ExperimentTrials';
import { HparamsTab, RungsTab } from './ExperimentHparams';
import { ActivityTab, LastChange } from './ExperimentActivity';
import { toRows } from './trialColumns';
import { plannedTrials } from '../experimentConfig';
import { ForecastVsActual } from '../components/ForecastVsActual';
import type { Highlight } from './highlight';
import { ExperimentManage, LabelsEditor, NotesTab } from '../components/ExperimentManage';

export function ExperimentPage({ id, tab }: { id: number; tab: string }) {
  // Start the curves request at once, beside the experiment's (when the boot script has not already).
  useState(() => {
    if (tab !== 'curves') return;
    void prefetch(curvesPath({ id }, new URLSearchParams(location.search))).catch(() => undefined);
  });
  const detail = useApi<ExperimentDetail>(`/experiments/${id}`);
  const names = useApi<{ training: string[]; validation: string[] }>(`/experiments/${id}/metric-names`);
  const now = useNow(5000);
  const [selected, setSelected] = useState<number | null>(null);
  const [hovered, setHovered] = useState<number | null>(null);
  const [metricsEpoch, setMetricsEpoch] = useState(0);
  const pendingTrials = useRef(new Map<number, TrialSummary>());
  const trialFlush = useRef<number | null>(null);
  useEffect(() => () => void (trialFlush.current !== null && cancelAnimationFrame(trialFlush.current)), []);
  // The curves tab appends streamed points itself; a full (re-downsampled) refetch at most once a minute.
  const bumpMetrics = useThrottle(() => setMetricsEpoch((e) => e + 1), 60_000);
  const reloadNames = useThrottle(names.reload, 10000);
  // A change of state or scheduling settings is an audited action: the detail (with its audit) is read again,
  // at most every 2 s, so the activity shows who did it (the stream's summary does not carry the audit).
  const reloadAudit = useThrottle(detail.reload, 2000);

  // Live: experiment and trial messages patch the page in place; metric messages are appended by the curves
  // tab and only schedule a throttled full refresh (≤ one request a minute however many trials report).
  useSubscription(`experiment:${id}`, (m) => {
    if (m.type === 'experiment') {
      const e = m.experiment;
      const was = detail.data;
      detail.setData((d) => d && { ...d, ...e, config: d.config, configYaml: d.configYaml, trials: d.trials, rungs: d.rungs, audit: d.audit });
      if (was && (was.state !== e.state || was.priority !== e.priority || was.weight !== e.weight || was.maxSlots !== e.maxSlots)) reloadAudit();
    }
    else if (m.type === 'trial') {
      // Trial updates are applied in batches, once per animation frame, so a busy experiment re-sorts its
      // 1,000-row table a few times per second at most.
      pendingTrials.current.set(m.trial.id, m.trial);
      if (trialFlush.current === null)
        trialFlush.current = requestAnimationFrame(() => {
          trialFlush.current = null;
          const batch = pendingTrials.current;
          pendingTrials.current = new Map();
          detail.setData((d) => {
            if (!d) return d;
            const trials = d.trials.map((x) => batch.get(x.id) ?? x);
            const known = new Set(d.trials.map((x) => x.id));
            for (const t of batch.values()) if (!known.has(t.id)) trials.push(t);
            return { ...d, trials };
          });
        });
    } else if (m.type === 'metrics') {
      bumpMetrics();
      if (m.points.some((p) => Object.keys(p.metrics).some((k) => !(m.group === 'validation' ? names.data?.validation : names.data?.training)?.includes(k)))) reloadNames();
    }
  });

  const hl: Highlight = {
    selected,
    hovered,
    select: useCallback((x: number | null) => setSelected((s) => (s === x ? null : x)), []),
    hover: setHovered,
  };
  const d = detail.data;
  /** A summary the master answered with (an action, an edit) patched into the page; the audit is read again. */
  const patch = (e: ExperimentSummary) => {
    detail.setData((x) => x && { ...x, ...e, config: x.config, configYaml: x.configYaml, trials: x.trials, rungs: x.rungs, audit: x.audit, notes: x.notes });
    reloadAudit();
  };
  // The curves tab marks the page ready once its chart is drawn; the other tabs render synchronously.
  useEffect(() => {
    if (d && tab !== 'curves') markReady();
  }, [d, tab]);
  const rows = useMemo(() => (d ? toRows(d.trials) : []), [d?.trials]); 

  if (detail.error && !d)
    return (
      <div className="page">
        <div className="error-box">
          Could not load experiment {id}: {detail.error.message}
        </div>
        <Link to="/experiments">← Experiments</Link>
      </div>
    );
  if (!d) return <div className="page muted">Loading experiment {id}…</div>;

  const tabs: Array<[string, string]> = [
    ['curves', 'Learning curves'],
    ['trials', 'Trials'],
    ['hyperparameters', 'Hyperparameters'],
    ...(d.rungs && d.rungs.length ? ([['rungs', 'Rungs']] as Array<[string, string]>) : []),
    ['config', 'Config'],
    ['notes', d.notes ? 'Notes ✎' : 'Notes'],
    ['activity', d.audit?.length ? `Activity (${d.audit.length})` : 'Activity'],
  ];
  const cfg = d.config;
  const planned = plannedTrials(cfg);
  const maxLen = cfg?.searcher?.max_length ? `${cfg.searcher.max_length.value} ${cfg.searcher.max_length.unit}` : cfg?.searcher?.max_time ? `${cfg.searcher.max_time} ${cfg.searcher.time_metric ?? ''}` : '–';

  return (
    <div className="page" data-testid="experiment-page" data-experiment-id={id}>
      <div className="crumbs">
        <Link to="/experiments">Experiments</Link> / <span>{id}</span>
      </div>
      <div className="exp-head card">
        <div className="exp-title">
          <h1>
            <span className="muted">#{d.id}</span> {d.name}
          </h1>
          <StateBadge state={d.state} />
          <Progress value={d.progress} testId="experiment-progress" />
          {d.archived && <span className="badge badge-archived" data-testid="archived-badge">archived</span>}
          <span className="spacer" />
          <ExperimentActions exp={d} onDone={patch} />
          <ExperimentManage exp={d} onChange={patch} />
        </div>
        <dl className="facts">
          <div><dt>Searcher</dt><dd>{d.searcher}</dd></div>
          <div><dt>Metric</dt><dd>{d.metric} ({d.smallerIsBetter ? 'min' : 'max'})</dd></div>
          <div><dt>Best</dt><dd data-testid="best-metric">{formatMetric(d.bestMetric)}</dd></div>
          <div><dt>Trials</dt><dd data-testid="trial-count" title="trials created / trials the searcher plans">{d.numTrials}{planned ? ` / ${planned}` : ''}</dd></div>
          <div><dt>Max length</dt><dd>{maxLen}</dd></div>
          <div><dt>Slots/trial</dt><dd>{cfg?.resources?.slots_per_trial ?? '–'}</dd></div>
          <div><dt>Pool</dt><dd>{d.resourcePool}</dd></div>
          <div><dt>Priority</dt><dd>{d.priority}</dd></div>
          <div><dt>Owner</dt><dd data-testid="owner">{d.user}</dd></div>
          <div><dt>Started</dt><dd>{formatLocalTime(d.startTime)}</dd></div>
          <div><dt>Duration</dt><dd>{formatDuration(d.startTime, d.endTime, now)}</dd></div>
          <div><dt>Project</dt><dd data-testid="project"><Link to={`/projects/${encodeURIComponent(d.project ?? 'default')}`}>{d.project ?? 'default'}</Link></dd></div>
          {d.forkedFrom != null && <div><dt>Forked from</dt><dd data-testid="forked-from"><Link to={`/experiments/${d.forkedFrom}`}>experiment {d.forkedFrom}</Link></dd></div>}
          {d.sourceTrialId != null && <div><dt>Continues</dt><dd data-testid="source-trial"><Link to={`/trials/${d.sourceTrialId}`}>trial {d.sourceTrialId}</Link>{d.sourceCheckpointUuid && <span className="muted mono small" title={d.sourceCheckpointUuid}> @ {d.sourceCheckpointUuid.slice(0, 8)}</span>}</dd></div>}
          <div>
            <dt>Labels</dt>
            <dd>
              <LabelsEditor exp={d} onChange={patch} />
            </dd>
          </div>
        </dl>
        {(d.description ?? cfg?.description) && <p className="desc" data-testid="description">{d.description ?? cfg?.description}</p>}
        <LastChange audit={d.audit} />
        <ForecastVsActual exp={d} />
      </div>
      <nav className="tabs" role="tablist">
        {tabs.map(([k, label]) => (
          <Link key={k} to={`/experiments/${id}/${k}`} role="tab" aria-selected={tab === k} className={tab === k ? 'tab active' : 'tab'} data-tab={k}>
            {label}
          </Link>
        ))}
      </nav>
      <div className="tab-body">
        {tab === 'curves' && <CurvesTab exp={d} rows={rows} names={names.data} hl={hl} epoch={metricsEpoch} />}
        {tab === 'trials' && <TrialsTab exp={d} rows={rows} hl={hl} />}
        {tab === 'hyperparameters' && <HparamsTab exp={d} rows={rows} hl={hl} />}
        {tab === 'rungs' && <RungsTab exp={d} />}
        {tab === 'config' && (
          <pre className="yaml card" data-testid="config-yaml">
            {d.configYaml}
          </pre>
        )}
        {tab === 'notes' && <NotesTab exp={d} onChange={(notes) => (detail.setData((x) => x && { ...x, notes }), reloadAudit())} />}
        {tab === 'activity' && <ActivityTab audit={d.audit} />}
        {!tabs.some(([k]) => k === tab) && <div className="muted">Unknown tab “{tab}”.</div>}
      </div>
    </div>
  );
}
