import { useEffect, useMemo, useState } from 'react';
import type { ExperimentDetail } from '@hone/protocol';
import { api, saveBlob } from '../api';
import { useApi, useSubscription, markReady } from '../hooks';
import { setQuery, useLocation } from '../router';
import { LineChart, type CurveSeries } from '../components/LineChart';
import { VirtualTable, sortRows, type Column, type SortState } from '../components/VirtualTable';
import { formatMetric } from '@hone/protocol/format';
import { ema, metricLabel, seriesColor, toCsv } from '../format';
import { MetricSelect } from '../components/MetricSelect';
import { curvesPath } from '../curves';
import { anyFailure, trialColumns, varyingHparamKeys, type TrialRow } from './trialColumns';
import { lengthUnit } from '../experimentConfig';
import { exportTrialsCsv } from './ExperimentTrials';
import type { Highlight } from './highlight';
import { notify } from '../components/Toasts';
import { actionError } from '../actionError';

/** The most points a curve of the metric history CSV holds: the experiment metrics endpoint's limit. */
const HISTORY_MAX_POINTS = 5000;

interface ExperimentMetrics {
  metric: string;
  group: string;
  series: Array<{ trialId: number; points: Array<[number, number]> }>;
}

function guessSmallerIsBetter(metric: string, exp: ExperimentDetail): boolean {
  if (metric === exp.metric) return exp.smallerIsBetter;
  return !/acc|auc|f1|precision|recall|score|iou|map\b/i.test(metric);
}

export function CurvesTab({ exp, rows, names, hl, epoch }: { exp: ExperimentDetail; rows: TrialRow[]; names?: { training: string[]; validation: string[] }; hl: Highlight; epoch: number }) {
  const { query } = useLocation();
  const group = query.get('group') === 'training' ? 'training' : 'validation';
  const metric = query.get('metric') || exp.metric;
  const smoothing = Math.min(0.99, Math.max(0, Number(query.get('smoothing')) || 0));
  const log = query.get('log') === '1';
  const topN = Number(query.get('top')) || 0;
  const metrics = useApi<ExperimentMetrics>(curvesPath(exp, query));
  // New points arrive on the stream and are appended in place, so a live experiment costs no requests;
  // the page re-downsamples from the server only now and then (the epoch, throttled by the page).
  useSubscription(`experiment:${exp.id}`, (m) => {
    if (m.type !== 'metrics' || m.group !== group) return;
    const pts = m.points.filter((p) => Number.isFinite(p.metrics[metric])).map((p): [number, number] => [p.stepsCompleted, p.metrics[metric]!]);
    if (!pts.length) return;
    metrics.setData((d) => {
      if (!d) return d;
      const series = d.series.slice();
      const i = series.findIndex((s) => s.trialId === m.trialId);
      if (i < 0) series.push({ trialId: m.trialId, points: pts });
      else {
        const last = series[i]!.points.at(-1)?.[0] ?? -Infinity;
        series[i] = { ...series[i]!, points: [...series[i]!.points, ...pts.filter((p) => p[0] > last)] };
      }
      return { ...d, series };
    });
  });
  const { reload } = metrics;
  useEffect(() => {
    if (epoch > 0) reload();
  }, [epoch, reload]);

  const smaller = guessSmallerIsBetter(metric, exp);
  const [drawn, setDrawn] = useState(false);

  // Rank trials by their best value of this metric (for top-N and the legend). For the searcher's metric the
  // trial's own best validation (over every point, not the downsampled ones) agrees with the table.
  const searcherBest = useMemo(() => {
    const m = new Map<number, number>();
    if (group === 'validation' && metric === exp.metric) for (const r of rows) if (r.bestValidation !== null) m.set(r.id, r.bestValidation);
    return m;
  }, [rows, group, metric, exp.metric]);
  const ranked = useMemo(() => {
    const s = metrics.data?.series ?? [];
    const withBest = s
      .filter((x) => x.points.length > 0)
      .map((x) => {
        let best = NaN;
        for (const [, v] of x.points) if (Number.isFinite(v) && (Number.isNaN(best) || (smaller ? v < best : v > best))) best = v;
        const known = searcherBest.get(x.trialId);
        if (known !== undefined && !(Number.isFinite(best) && (smaller ? best < known : best > known))) best = known;
        return { ...x, best };
      });
    withBest.sort((a, b) => (Number.isNaN(a.best) ? 1 : Number.isNaN(b.best) ? -1 : smaller ? a.best - b.best : b.best - a.best));
    return withBest;
  }, [metrics.data, smaller, searcherBest]);

  const shown = useMemo(() => {
    const top = topN > 0 ? ranked.slice(0, topN) : ranked;
    return top
      .map((x, rank) => ({ ...x, rank }))
      .sort((a, b) => a.trialId - b.trialId)
      .map<CurveSeries>((x) => ({
        id: x.trialId,
        label: `trial ${x.trialId}`,
        xs: x.points.map((p) => p[0]),
        ys: ema(x.points.map((p) => p[1]), smoothing),
        color: seriesColor(x.trialId),
      }));
  }, [ranked, topN, smoothing]);

  const highlighted = hl.hovered ?? hl.selected;
  const hasData = !!metrics.data;
  useEffect(() => {
    if (hasData && (drawn || shown.length === 0)) markReady();
  }, [hasData, drawn, shown.length]);

  const metricOptions: Array<[string, string]> = [
    ...(names?.validation ?? [exp.metric]).map((m): [string, string] => ['validation', m]),
    ...(names?.training ?? []).map((m): [string, string] => ['training', m]),
  ];
  if (!metricOptions.some(([g, m]) => g === group && m === metric)) metricOptions.unshift([group, metric]);

  const exportHistory = async () => {
    const full = await api<ExperimentMetrics>(`/experiments/${exp.id}/metrics?group=${group}&metric=${encodeURIComponent(metric)}&max_points=${HISTORY_MAX_POINTS}`);
    const out: unknown[][] = [];
    for (const s of full.series) for (const [x, y] of s.points) out.push([s.trialId, x, y]);
    saveBlob(new Blob([toCsv(['trial_id', 'steps_completed', `${group}.${metric}`], out)], { type: 'text/csv' }), `experiment-${exp.id}-${group}-${metric}.csv`);
  };

  const legend = useMemo(() => {
    const top = ranked.filter((r) => shown.some((s) => s.id === r.trialId)).slice(0, 10);
    if (highlighted !== null && !top.some((r) => r.trialId === highlighted)) {
      const h = ranked.find((r) => r.trialId === highlighted);
      if (h) top.push(h);
    }
    return top;
  }, [ranked, shown, highlighted]);

  const hpKeys = useMemo(() => varyingHparamKeys(rows).slice(0, 6), [rows]);
  const latestCol: Column<TrialRow> = { key: 'latest', title: `latest ${metric}`, width: 120, align: 'right', sortValue: (r) => r.latestValidation?.[metric], render: (r) => formatMetric(r.latestValidation?.[metric]) };
  const failures = useMemo(() => anyFailure(rows), [rows]);
  const cols = useMemo(() => trialColumns({ metric: exp.metric, unit: lengthUnit(exp.config), hpKeys, valKeys: [], failures, compare: true }), [exp.metric, exp.config, hpKeys, failures]);
  const colsWithLatest = useMemo(() => (group === 'validation' && metric !== exp.metric ? [...cols.slice(0, 5), latestCol, ...cols.slice(5)] : cols), [cols, group, metric]); 
  const [sort, setSort] = useState<SortState | null>({ key: 'best', desc: !exp.smallerIsBetter });
  const sorted = useMemo(() => sortRows(rows, colsWithLatest, sort), [rows, colsWithLatest, sort]);

  return (
    <div data-testid="curves-tab">
      <div className="toolbar">
        <MetricSelect
          group={group}
          metric={metric}
          options={metricOptions}
          onChange={(g, m) => setQuery({ group: g === 'validation' ? null : g, metric: m === exp.metric ? null : m }, { replace: true })}
          testId="metric-select"
        />
        <label className="field" title="Exponential moving average">
          Smoothing
          <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setQuery({ smoothing: Number(e.target.value) || null }, { replace: true })} data-testid="smoothing" />
          <span className="mono w-3">{smoothing.toFixed(2)}</span>
        </label>
        <label className="field">
          <input type="checkbox" checked={log} onChange={(e) => setQuery({ log: e.target.checked ? '1' : null }, { replace: true })} data-testid="log-scale" /> Log scale
        </label>
        <label className="field">
          Show
          <select className="input" value={topN} onChange={(e) => setQuery({ top: Number(e.target.value) || null }, { replace: true })} data-testid="top-n">
            <option value={0}>all trials</option>
            {[5, 10, 20, 50, 100].map((n) => (
              <option key={n} value={n}>
                top {n}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <button
          type="button"
          className="btn btn-sm"
          title={`Every point of each trial's curve, up to ${HISTORY_MAX_POINTS} a trial (longer curves are downsampled, keeping spikes)`}
          onClick={() => exportHistory().catch((err) => notify(actionError(err, 'export the metric history')))}
          data-testid="export-metrics"
        >
          ⤓ Metric history CSV
        </button>
        <button type="button" className="btn btn-sm" onClick={() => exportTrialsCsv(exp, sorted)} data-testid="export-trials">
          ⤓ Trials CSV
        </button>
      </div>
      <div className="curves-layout">
        <div className="card chart-card">
          {metrics.error && <div className="error-box">Could not load metrics: {metrics.error.message}</div>}
          {metrics.data && shown.length === 0 && <div className="chart-empty">No {group} data for “{metric}” yet.</div>}
          {shown.length > 0 && (
            <LineChart
              series={shown}
              highlighted={highlighted}
              onHover={hl.hover}
              log={log}
              height={300}
              xLabel="steps (batches)"
              yLabel={metricLabel(group, metric)}
              onDraw={() => !drawn && setDrawn(true)}
              testId="learning-curves"
            />
          )}
          {!metrics.data && !metrics.error && <div className="chart-empty">Loading curves…</div>}
        </div>
        <ul className="legend card" data-testid="curve-legend">
          <li className="legend-head">
            {topN ? `Top ${topN}` : 'Best'} by {metric} ({smaller ? 'min' : 'max'})
          </li>
          {legend.map((r) => (
            <li
              key={r.trialId}
              data-trial-id={r.trialId}
              data-highlighted={highlighted === r.trialId ? 'true' : undefined}
              className={highlighted === r.trialId ? 'on' : ''}
              onMouseEnter={() => hl.hover(r.trialId)}
              onMouseLeave={() => hl.hover(null)}
              onClick={() => hl.select(r.trialId)}
            >
              <span className="swatch" style={{ background: seriesColor(r.trialId) }} />
              <span className="legend-id">trial {r.trialId}</span>
              <span className="legend-val mono">{formatMetric(r.best)}</span>
            </li>
          ))}
          {ranked.length > legend.length && <li className="muted legend-more">{shown.length} curves shown of {ranked.length}</li>}
        </ul>
      </div>
      <VirtualTable
        rows={sorted}
        columns={colsWithLatest}
        rowKey={(r) => r.id}
        height={Math.min(360, 28 * (sorted.length + 1) + 2)}
        sort={sort}
        onSort={setSort}
        highlighted={highlighted}
        selected={hl.selected}
        scrollTo={hl.hovered}
        onRowClick={(r) => hl.select(r.id)}
        onRowHover={(r) => hl.hover(r?.id ?? null)}
        testId="trials-table"
        empty="No trials yet."
      />
    </div>
  );
}
