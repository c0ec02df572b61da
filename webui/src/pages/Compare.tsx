// Side-by-side comparison of 2–10 trials from one or several experiments (/compare?trials=1,2,3): their
// hyperparameters with the differing rows highlighted, overlaid learning curves of one metric, and final metrics.
// Built on the per-trial endpoints (GET /trials/:id and its metrics), so any trials can be mixed.
import { useEffect, useMemo, useState } from 'react';
import type { TrialComparison, TrialDetail } from '@hone/protocol';
import { api } from '../api';
import { markReady } from '../hooks';
import { Link, navigate, setQuery, useLocation } from '../router';
import { formatMetric, formatValue } from '@hone/protocol/format';
import { flattenHParams, metricLabel } from '../format';
import { MetricSelect } from '../components/MetricSelect';
import { StateBadge } from '../components/StateBadge';
import { LineChart, type CurveSeries } from '../components/LineChart';
import { comparePath, MAX_COMPARE, MIN_COMPARE, parseCompareIds, setCompare } from '../compareSelection';
import '../mgmt.css';

interface TrialMetrics {
  group: string;
  series: Record<string, Array<[number, number]>>;
}

interface Loaded {
  trial: TrialDetail;
  validation: TrialMetrics | null;
  training: TrialMetrics | null;
}

/** Distinct colours for at most ten trials, in the order they are listed. */
const PALETTE = ['#1f6feb', '#e8590c', '#2f9e44', '#ae3ec9', '#d6336c', '#0c8599', '#f59f00', '#5c7cfa', '#868e96', '#a61e4d'];
export const compareColor = (i: number): string => PALETTE[i % PALETTE.length]!;

/** Whether smaller values of this metric are better, guessed from its name (loss, error: smaller; accuracy: larger). */
export function smallerIsBetter(metric: string): boolean {
  return !/acc|auc|f1|precision|recall|score|iou|map\b/i.test(metric);
}

/** Keys whose values are not all the same across the columns (a key missing in one column differs too). */
export function differingKeys(cols: Array<Record<string, unknown>>): Set<string> {
  const keys = new Set(cols.flatMap((c) => Object.keys(c)));
  const out = new Set<string>();
  for (const k of keys) {
    const vals = new Set(cols.map((c) => (k in c ? JSON.stringify(c[k]) : '\u0000missing')));
    if (vals.size > 1) out.add(k);
  }
  return out;
}

function useTrials(ids: number[]): { data: Array<Loaded | { id: number; error: string }> | undefined } {
  const [data, setData] = useState<Array<Loaded | { id: number; error: string }> | undefined>(undefined);
  const key = ids.join(',');
  useEffect(() => {
    let live = true;
    const one = async (id: number): Promise<Loaded | { id: number; error: string }> => {
      try {
        const [trial, validation, training] = await Promise.all([
          api<TrialDetail>(`/trials/${id}`),
          api<TrialMetrics>(`/trials/${id}/metrics?group=validation&max_points=500`).catch(() => null),
          api<TrialMetrics>(`/trials/${id}/metrics?group=training&max_points=500`).catch(() => null),
        ]);
        return { trial, validation, training };
      } catch (e) {
        return { id, error: (e as Error).message };
      }
    };
    Promise.all(ids.map(one)).then((d) => live && setData(d));
    return () => {
      live = false;
    };
  }, [key]);
  return { data };
}

export function ComparePage() {
  const { query } = useLocation();
  const ids = useMemo(() => parseCompareIds(query.get('trials')), [query.get('trials')]);
  // The page's trials become the picked ones, so the checkboxes elsewhere agree with what is compared here.
  useEffect(() => setCompare(ids), [ids.join(',')]);
  const { data } = useTrials(ids);
  // Experiment names (and their searcher metrics) come with the comparison endpoint; the page does not wait for it.
  const [names, setNames] = useState<Map<number, { experimentName: string; metric: string }>>(new Map());
  useEffect(() => {
    if (ids.length < MIN_COMPARE) return;
    let live = true;
    api<TrialComparison>(`/trials/compare?ids=${ids.join(',')}`).then(
      (c) => live && setNames(new Map(c.trials.map((t) => [t.id, { experimentName: t.experimentName, metric: t.metric }]))),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [ids.join(',')]);
  const loaded = useMemo(() => (data ?? []).filter((x): x is Loaded => 'trial' in x), [data]);
  const failed = useMemo(() => (data ?? []).filter((x): x is { id: number; error: string } => 'error' in x), [data]);
  const [onlyDiff, setOnlyDiff] = useState(false);
  const [addId, setAddId] = useState('');

  useEffect(() => {
    if (data || ids.length < MIN_COMPARE) markReady();
  }, [data, ids.length]);

  const hps = useMemo(() => loaded.map((l) => flattenHParams(l.trial.hparams ?? {})), [loaded]);
  const diff = useMemo(() => differingKeys(hps), [hps]);
  const hpKeys = useMemo(() => [...new Set(hps.flatMap((h) => Object.keys(h)))].sort((a, b) => Number(diff.has(b)) - Number(diff.has(a)) || a.localeCompare(b)), [hps, diff]);

  const metricOptions = useMemo(() => {
    const v = new Set<string>(), t = new Set<string>();
    for (const l of loaded) {
      for (const k of Object.keys(l.validation?.series ?? {})) v.add(k);
      for (const k of Object.keys(l.training?.series ?? {})) t.add(k);
    }
    return [...[...v].sort().map((m): [string, string] => ['validation', m]), ...[...t].sort().map((m): [string, string] => ['training', m])];
  }, [loaded]);
  const group = query.get('group') === 'training' ? 'training' : 'validation';
  const metric = query.get('metric') ?? metricOptions.find(([g]) => g === group)?.[1] ?? metricOptions[0]?.[1] ?? 'loss';
  const series = useMemo<CurveSeries[]>(
    () =>
      loaded.flatMap((l, i) => {
        const pts = (group === 'training' ? l.training : l.validation)?.series[metric];
        if (!pts?.length) return [];
        return [{ id: l.trial.id, label: `trial ${l.trial.id}`, xs: pts.map((p) => p[0]), ys: pts.map((p) => p[1]), color: compareColor(i) }];
      }),
    [loaded, group, metric],
  );
  const [hovered, setHovered] = useState<number | null>(null);

  const finalKeys = useMemo(() => {
    const v = new Set<string>(), t = new Set<string>();
    for (const l of loaded) {
      for (const k of Object.keys(l.trial.latestValidation ?? {})) v.add(k);
      for (const k of Object.keys(l.trial.latestTraining ?? {})) t.add(k);
    }
    return [...[...v].sort().map((m): [string, string] => ['validation', m]), ...[...t].sort().map((m): [string, string] => ['training', m])];
  }, [loaded]);

  const remove = (id: number) => navigate(comparePath(ids.filter((x) => x !== id)), { replace: true });
  const add = () => {
    const n = Number(addId);
    if (!Number.isInteger(n) || n <= 0 || ids.includes(n) || ids.length >= MAX_COMPARE) return;
    setAddId('');
    navigate(comparePath([...ids, n]), { replace: true });
  };

  return (
    <div className="page" data-testid="compare-page">
      <div className="crumbs">
        <Link to="/experiments">Experiments</Link> / <span>compare</span>
      </div>
      <div className="page-head">
        <h1>Compare trials</h1>
        <span className="muted">
          {ids.length} of at most {MAX_COMPARE}
        </span>
        <span className="spacer" />
        <input className="input input-sm" placeholder="trial id" value={addId} onChange={(e) => setAddId(e.target.value.replace(/\D/g, ''))} onKeyDown={(e) => e.key === 'Enter' && add()} data-testid="compare-add-id" />
        <button type="button" className="btn btn-sm" onClick={add} disabled={!addId || ids.length >= MAX_COMPARE} data-testid="compare-add">
          Add trial
        </button>
      </div>
      {ids.length < MIN_COMPARE && (
        <div className="info-box" data-testid="compare-too-few">
          Pick at least {MIN_COMPARE} trials to compare: tick their boxes in an experiment's trial table or in the runs list, then press Compare.
        </div>
      )}
      {failed.map((f) => (
        <div key={f.id} className="error-box" data-testid="compare-error">
          Trial {f.id}: {f.error}{' '}
          <button type="button" className="btn btn-xs" onClick={() => remove(f.id)}>
            Remove
          </button>
        </div>
      ))}
      {!data && ids.length >= MIN_COMPARE && <div className="muted">Loading {ids.length} trials…</div>}
      {loaded.length > 0 && (
        <>
          <div className="card">
            <div className="card-head">
              <h3>Trials</h3>
            </div>
            <div className="table-scroll">
              <table className="table compare-table" data-testid="compare-trials">
                <thead>
                  <tr>
                    <th />
                    {loaded.map((l, i) => (
                      <th key={l.trial.id} data-trial-id={l.trial.id} className="compare-col">
                        <span className="swatch swatch-wide" style={{ background: compareColor(i) }} /> <Link to={`/trials/${l.trial.id}`}>trial {l.trial.id}</Link>{' '}
                        <button type="button" className="chip-x" title={`remove trial ${l.trial.id}`} onClick={() => remove(l.trial.id)} data-remove={l.trial.id}>
                          ×
                        </button>
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th>Experiment</th>
                    {loaded.map((l) => (
                      <td key={l.trial.id}>
                        <Link to={`/experiments/${l.trial.experimentId}`} data-testid="compare-experiment">
                          #{l.trial.experimentId}
                          {names.get(l.trial.id) ? ` ${names.get(l.trial.id)!.experimentName}` : ''}
                        </Link>
                      </td>
                    ))}
                  </tr>
                  <tr>
                    <th>State</th>
                    {loaded.map((l) => (
                      <td key={l.trial.id}>
                        <StateBadge state={l.trial.state} />
                      </td>
                    ))}
                  </tr>
                  <tr>
                    <th>Length trained</th>
                    {loaded.map((l) => (
                      <td key={l.trial.id} className="num">
                        {formatValue(l.trial.trainedLength)}
                      </td>
                    ))}
                  </tr>
                  <tr>
                    <th>Best validation</th>
                    {loaded.map((l) => (
                      <td key={l.trial.id} className="num">
                        <b>{formatMetric(l.trial.bestValidation)}</b>
                        {names.get(l.trial.id) && <span className="muted small"> {names.get(l.trial.id)!.metric}</span>}
                      </td>
                    ))}
                  </tr>
                  <tr>
                    <th>Seed</th>
                    {loaded.map((l) => (
                      <td key={l.trial.id} className="num">
                        {l.trial.seed}
                      </td>
                    ))}
                  </tr>
                </tbody>
              </table>
            </div>
          </div>

          <div className="card">
            <div className="card-head">
              <h3>Hyperparameters</h3>
              <span className="muted">
                {diff.size} of {hpKeys.length} differ
              </span>
              <span className="spacer" />
              <label className="field">
                <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} data-testid="only-differences" /> Only differences
              </label>
            </div>
            <div className="table-scroll">
              <table className="table compare-table" data-testid="compare-hparams">
                <thead>
                  <tr>
                    <th>Hyperparameter</th>
                    {loaded.map((l, i) => (
                      <th key={l.trial.id} className="num">
                        <span className="swatch" style={{ background: compareColor(i) }} /> trial {l.trial.id}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {hpKeys
                    .filter((k) => !onlyDiff || diff.has(k))
                    .map((k) => (
                      <tr key={k} data-hparam={k} data-differs={diff.has(k) ? 'true' : undefined} className={diff.has(k) ? 'differs' : undefined}>
                        <th className="mono">{k}</th>
                        {hps.map((h, i) => (
                          <td key={i} className="num mono">
                            {k in h ? formatValue(h[k]) : <span className="muted">–</span>}
                          </td>
                        ))}
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          </div>

          <div className="card">
            <div className="card-head">
              <h3>Learning curves</h3>
              <MetricSelect
                group={group}
                metric={metric}
                options={metricOptions}
                onChange={(g, m) => setQuery({ group: g === 'validation' ? null : g, metric: m }, { replace: true })}
                testId="compare-metric"
              />
              <span className="spacer" />
              <span className="legend-inline">
                {loaded.map((l, i) => (
                  <span key={l.trial.id} className="compare-legend" data-trial-id={l.trial.id}>
                    <span className="swatch" style={{ background: compareColor(i) }} /> trial {l.trial.id}
                  </span>
                ))}
              </span>
            </div>
            {series.length === 0 ? (
              <div className="chart-empty">No {group} data for “{metric}”.</div>
            ) : (
              <LineChart series={series} highlighted={hovered} onHover={setHovered} height={300} xLabel="steps (batches)" yLabel={metricLabel(group, metric)} testId="compare-curves" />
            )}
          </div>

          <div className="card">
            <div className="card-head">
              <h3>Final metrics</h3>
              <span className="muted">latest reported value; the best of each row is marked</span>
            </div>
            <div className="table-scroll">
              <table className="table compare-table" data-testid="compare-metrics">
                <thead>
                  <tr>
                    <th>Metric</th>
                    {loaded.map((l, i) => (
                      <th key={l.trial.id} className="num">
                        <span className="swatch" style={{ background: compareColor(i) }} /> trial {l.trial.id}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {finalKeys.map(([g, m]) => {
                    const vals = loaded.map((l) => (g === 'validation' ? l.trial.latestValidation : l.trial.latestTraining)?.[m]);
                    const finite = vals.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
                    const best = finite.length > 1 ? (smallerIsBetter(m) ? Math.min(...finite) : Math.max(...finite)) : undefined;
                    return (
                      <tr key={`${g}:${m}`} data-metric={`${g}.${m}`}>
                        <th>{metricLabel(g, m)}</th>
                        {vals.map((v, i) => (
                          <td key={i} className={`num${v === best ? ' best' : ''}`} data-best={v === best ? 'true' : undefined}>
                            {formatMetric(v)}
                          </td>
                        ))}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </div>
        </>
      )}
    </div>
  );
}
