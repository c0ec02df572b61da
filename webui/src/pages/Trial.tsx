import { useEffect, useMemo, useState } from 'react';
import type { AllocationSummary, CheckpointInfo, ExperimentDetail, TrialDetail } from '@hone/protocol';
import { download, getToken } from '../api';
import { useApi, useNow, useSubscription, useThrottle, markReady } from '../hooks';
import { Link } from '../router';
import { formatBytes, formatDuration, formatLocalTime, formatMetric, formatValue } from '@hone/protocol/format';
import { flattenHParams, metricLabel } from '../format';
import { lengthText, lengthUnit } from '../experimentConfig';
import { Progress, StateBadge } from '../components/StateBadge';
import { LineChart, type CurveSeries } from '../components/LineChart';
import { LogViewer } from './LogViewer';
import { EmptyRow } from '../components/EmptyRow';
import { notify } from '../components/Toasts';
import { actionError } from '../actionError';
import { TrialActions } from '../components/TrialActions';
import { RegisterButton, Reproducibility } from '../components/TrialManage';
import { CompareCheckbox } from '../components/CompareBar';

interface TrialMetrics {
  group: string;
  series: Record<string, Array<[number, number]>>;
}

export function TrialPage({ id, tab }: { id: number; tab: string }) {
  const trial = useApi<TrialDetail>(`/trials/${id}`);
  const now = useNow(5000);
  const t = trial.data;
  const reload = useThrottle(trial.reload, 3000);
  const [metricsEpoch, setMetricsEpoch] = useState(0);
  const bumpMetrics = useThrottle(() => setMetricsEpoch((e) => e + 1), 5000);
  // The experiment gives the unit lengths are counted in; the page does not wait for it.
  const exp = useApi<ExperimentDetail>(t ? `/experiments/${t.experimentId}` : null);
  const unit = lengthUnit(exp.data?.config);
  useSubscription(`trial:${id}`, (m) => {
    if (m.type === 'trial') {
      const was = t;
      trial.setData((d) => d && { ...d, ...m.trial, checkpoints: d.checkpoints, allocations: d.allocations });
      // A new checkpoint, a new run or a failure changes the lists the summary does not carry.
      const n = m.trial;
      if (!was || n.latestCheckpoint !== was.latestCheckpoint || n.state !== was.state || n.restarts !== was.restarts || n.failure !== was.failure) reload();
    } else if (m.type === 'metrics') bumpMetrics();
  });

  if (trial.error && !t)
    return (
      <div className="page">
        <div className="error-box">
          Could not load trial {id}: {trial.error.message}
        </div>
      </div>
    );
  if (!t) return <div className="page muted">Loading trial {id}…</div>;

  const hp = flattenHParams(t.hparams ?? {});
  return (
    <div className="page" data-testid="trial-page" data-trial-id={id}>
      <div className="crumbs">
        <Link to="/experiments">Experiments</Link> / <Link to={`/experiments/${t.experimentId}`}>{t.experimentId}</Link> / <span>trial {id}</span>
      </div>
      <div className="exp-head card">
        <div className="exp-title">
          <h1>
            <span className="muted">Trial</span> {id}
          </h1>
          <StateBadge state={t.state} />
          <label className="field" title="Pick this trial for the comparison">
            <CompareCheckbox id={id} /> compare
          </label>
          <span className="spacer" />
          <TrialActions trial={t} owner={exp.data?.user} unit={unit} onDone={trial.reload} />
          <Link className="btn btn-sm" to={`/experiments/${t.experimentId}/curves`}>
            Experiment {t.experimentId}
          </Link>
        </div>
        <dl className="facts">
          <div>
            <dt>Length</dt>
            <dd data-testid="trial-length" title={`validated at ${formatValue(t.completedLength)}`}>
              {lengthText(t.trainedLength, t.targetLength, unit)} <Progress value={t.targetLength > 0 ? t.trainedLength / t.targetLength : 0} />
            </dd>
          </div>
          <div><dt>Best {exp.data?.metric ?? 'validation'}</dt><dd>{formatMetric(t.bestValidation)}</dd></div>
          <div><dt>Restarts</dt><dd>{t.restarts}</dd></div>
          <div><dt>Seed</dt><dd>{t.seed}</dd></div>
          <div><dt>Started</dt><dd>{formatLocalTime(t.startTime)}</dd></div>
          <div><dt>Duration</dt><dd>{formatDuration(t.startTime, t.endTime, now)}</dd></div>
          {t.sourceTrialId != null && (
            <div>
              <dt>Warm start</dt>
              <dd data-testid="trial-source">
                <Link to={`/trials/${t.sourceTrialId}`}>trial {t.sourceTrialId}</Link>
                {t.sourceCheckpointUuid && <span className="muted mono small" title={t.sourceCheckpointUuid}> @ {t.sourceCheckpointUuid.slice(0, 8)}</span>}
              </dd>
            </div>
          )}
          <div><dt>Request</dt><dd className="mono small" title={t.requestId}>{t.requestId.length > 14 ? `${t.requestId.slice(0, 12)}…` : t.requestId}</dd></div>
        </dl>
        {t.failure && (
          <div className="error-box failure" data-testid="trial-failure">
            <b>{t.state === 'ERROR' || t.state === 'STOPPING_ERROR' ? 'Failed' : 'Last failure'}:</b> <span className="mono">{t.failure}</span>
          </div>
        )}
      </div>
      <nav className="tabs" role="tablist">
        {[
          ['overview', 'Overview'],
          ['logs', 'Logs'],
        ].map(([k, label]) => (
          <Link key={k} to={`/trials/${id}/${k}`} role="tab" aria-selected={tab === k} className={tab === k ? 'tab active' : 'tab'} data-tab={k}>
            {label}
          </Link>
        ))}
      </nav>
      {tab === 'logs' ? (
        <LogViewer trialId={id} onReady={markReady} />
      ) : (
        <div className="trial-overview">
          <div className="trial-side">
            <div className="card">
              <div className="card-head">
                <h3>Hyperparameters</h3>
              </div>
              <table className="table kv" data-testid="trial-hparams">
                <tbody>
                  {Object.entries(hp).map(([k, v]) => (
                    <tr key={k}>
                      <th>{k}</th>
                      <td className="mono">{formatValue(v)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="card">
              <div className="card-head">
                <h3>Latest metrics</h3>
              </div>
              <table className="table kv" data-testid="trial-latest-metrics">
                <tbody>
                  {(['validation', 'training'] as const).flatMap((group) =>
                    Object.entries((group === 'validation' ? t.latestValidation : t.latestTraining) ?? {}).map(([k, v]) => (
                      <tr key={`${group}:${k}`}>
                        <th>{metricLabel(group, k)}</th>
                        <td className="mono">{formatMetric(v)}</td>
                      </tr>
                    )),
                  )}
                </tbody>
              </table>
            </div>
          </div>
          <div className="trial-main">
            <TrialCharts id={id} epoch={metricsEpoch} />
            <Reproducibility record={t.reproducibility ?? null} experimentId={t.experimentId} />
            <Runs list={t.allocations ?? []} now={now} />
            <Checkpoints list={t.checkpoints ?? []} />
          </div>
        </div>
      )}
    </div>
  );
}

function TrialCharts({ id, epoch }: { id: number; epoch: number }) {
  const val = useApi<TrialMetrics>(`/trials/${id}/metrics?group=validation&max_points=500`);
  const tr = useApi<TrialMetrics>(`/trials/${id}/metrics?group=training&max_points=500`);
  const { reload: rv } = val;
  const { reload: rt } = tr;
  useEffect(() => {
    if (epoch > 0) {
      rv();
      rt();
    }
  }, [epoch, rv, rt]);
  const charts = useMemo(() => {
    const names = new Set([...Object.keys(val.data?.series ?? {}), ...Object.keys(tr.data?.series ?? {})]);
    return [...names].sort().map((name) => {
      const s: CurveSeries[] = [];
      const tp = tr.data?.series[name];
      const vp = val.data?.series[name];
      if (tp?.length) s.push({ id: 1, label: 'training', xs: tp.map((p) => p[0]), ys: tp.map((p) => p[1]), color: 'hsla(210, 70%, 50%, 1)' });
      if (vp?.length) s.push({ id: 2, label: 'validation', xs: vp.map((p) => p[0]), ys: vp.map((p) => p[1]), color: 'hsla(25, 85%, 50%, 1)' });
      return { name, s };
    });
  }, [val.data, tr.data]);
  const loaded = !!val.data && !!tr.data;
  useEffect(() => {
    if (loaded) markReady();
  }, [loaded]);
  return (
    <div className="card">
      <div className="card-head">
        <h3>Metrics</h3>
        <span className="legend-inline">
          <span className="swatch" style={{ background: 'hsla(210, 70%, 50%, 1)' }} /> training
          <span className="swatch" style={{ background: 'hsla(25, 85%, 50%, 1)' }} /> validation
        </span>
      </div>
      {loaded && charts.length === 0 && <div className="chart-empty">No metrics reported yet.</div>}
      <div className="chart-grid" data-testid="trial-charts">
        {charts.map((c) => (
          <div key={c.name} className="mini-chart">
            <div className="mini-title">{c.name}</div>
            <LineChart series={c.s} highlighted={null} height={180} xLabel="steps" />
          </div>
        ))}
      </div>
    </div>
  );
}

/** The trial's restart history: one row per run (allocation), oldest first; runs that failed are marked. */
function Runs({ list, now }: { list: AllocationSummary[]; now: number }) {
  const failed = list.filter((a) => a.failed).length;
  return (
    <div className="card">
      <div className="card-head">
        <h3>Runs</h3>
        <span className="muted">
          {list.length}
          {failed ? `, ${failed} failed` : ''}
        </span>
      </div>
      <div className="table-scroll">
        <table className="table runs" data-testid="trial-runs">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>State</th>
              <th>Started</th>
              <th>Ended</th>
              <th className="num">Duration</th>
              <th>Agents</th>
              <th>Exit</th>
              <th>Last error</th>
            </tr>
          </thead>
          <tbody>
            {list.map((a, i) => (
              <tr key={a.id} data-allocation={a.id} data-failed={a.failed ? 'true' : undefined} className={a.failed ? 'run-failed' : undefined}>
                <td className="num">{i + 1}</td>
                <td>{a.failed ? <span className="badge st-error" data-state="FAILED">failed</span> : <StateBadge state={a.state} />}</td>
                <td className="nowrap">{formatLocalTime(a.startedAt)}</td>
                <td className="nowrap">{formatLocalTime(a.endedAt)}</td>
                <td className="num nowrap">{formatDuration(a.startedAt, a.endedAt, now)}</td>
                <td className="mono small">{a.agents.length ? a.agents.join(', ') : '–'}</td>
                <td className="nowrap">
                  {a.exitReason ?? (a.state === 'TERMINATED' ? 'exited' : '–')}
                  {a.exitCode !== null && <span className="muted"> (code {a.exitCode})</span>}
                </td>
                <td className="mono small last-error">{a.lastError ?? ''}</td>
              </tr>
            ))}
            {list.length === 0 && (
              <EmptyRow columns={8}>Not started yet.</EmptyRow>
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function Checkpoints({ list }: { list: CheckpointInfo[] }) {
  const sorted = [...list].sort((a, b) => b.stepsCompleted - a.stepsCompleted);
  return (
    <div className="card">
      <div className="card-head">
        <h3>Checkpoints</h3>
        <span className="muted">{list.length}</span>
      </div>
      <table className="table" data-testid="checkpoints">
        <thead>
          <tr>
            <th>UUID</th>
            <th className="num">Steps</th>
            <th className="num">Validation</th>
            <th className="num">Size</th>
            <th>State</th>
            <th>Reported</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sorted.map((c) => {
            const size = Object.values(c.resources ?? {}).reduce((s, n) => s + n, 0);
            const href = `/api/v1/checkpoints/${c.uuid}/download`;
            return (
              <tr key={c.uuid} data-checkpoint={c.uuid}>
                <td className="mono small" title={c.uuid}>
                  {c.uuid.slice(0, 8)}
                </td>
                <td className="num">{c.stepsCompleted}</td>
                <td className="num">{formatMetric(c.validationMetric)}</td>
                <td className="num">{formatBytes(size)}</td>
                <td>{c.state.toLowerCase()}</td>
                <td className="nowrap">{formatLocalTime(c.reportedAt)}</td>
                <td className="nowrap">
                  {c.state === 'COMPLETED' && <RegisterButton checkpoint={c} />}{' '}
                  {c.state === 'COMPLETED' && (
                    <a
                      className="btn btn-xs"
                      href={href}
                      download={`checkpoint-${c.uuid}.tar.gz`}
                      onClick={(e) => {
                        if (!getToken()) return;
                        e.preventDefault();
                        download(`/checkpoints/${c.uuid}/download`, `checkpoint-${c.uuid}.tar.gz`).catch((err) => notify(actionError(err, `download checkpoint ${c.uuid.slice(0, 8)}`)));
                      }}
                    >
                      ⤓ Download
                    </a>
                  )}
                </td>
              </tr>
            );
          })}
          {list.length === 0 && (
            <EmptyRow columns={7}>No checkpoints yet.</EmptyRow>
          )}
        </tbody>
      </table>
    </div>
  );
}
