import { useMemo } from 'react';
import type { ExperimentDetail } from '@hone/protocol';
import { ParallelCoordinates, ScatterPlot, type HpRow } from '../components/Charts';
import { Link } from '../router';
import { formatMetric, formatValue } from '@hone/protocol/format';
import { varyingHparamKeys, type TrialRow } from './trialColumns';
import type { Highlight } from './highlight';
import { logScaleHparams } from '../experimentConfig';

export function HparamsTab({ exp, rows, hl }: { exp: ExperimentDetail; rows: TrialRow[]; hl: Highlight }) {
  const keys = useMemo(() => varyingHparamKeys(rows), [rows]);
  const logKeys = useMemo(() => logScaleHparams(exp.config), [exp.config]);
  const hpRows = useMemo<HpRow[]>(() => rows.filter((r) => r.bestValidation !== null).map((r) => ({ id: r.id, values: r.flat, metric: r.bestValidation })), [rows]);
  const highlighted = hl.hovered ?? hl.selected;
  const hRow = highlighted !== null ? rows.find((r) => r.id === highlighted) : undefined;
  if (rows.length === 0) return <div className="muted">No trials yet.</div>;
  if (keys.length === 0) return <div className="muted">The hyperparameters are the same in every trial; there is nothing to compare.</div>;
  return (
    <div data-testid="hparams-tab">
      <div className="card">
        <div className="card-head">
          <h3>Parallel coordinates</h3>
          <span className="muted">
            {hpRows.length} trials with a validation {exp.metric}; colour: best (blue) → worst (red)
          </span>
          <span className="spacer" />
          {hRow && (
            <span className="hl-info" data-testid="hp-highlight">
              <Link to={`/trials/${hRow.id}`}>trial {hRow.id}</Link> · {exp.metric} {formatMetric(hRow.bestValidation)} ·{' '}
              {keys
                .slice(0, 4)
                .map((k) => `${k}=${formatValue(hRow.flat[k])}`)
                .join(' ')}
            </span>
          )}
        </div>
        <ParallelCoordinates rows={hpRows} hpKeys={keys.slice(0, 12)} logKeys={logKeys} metricName={exp.metric} smallerIsBetter={exp.smallerIsBetter} highlighted={highlighted} onHover={hl.hover} onSelect={hl.select} />
      </div>
      <div className="scatter-grid">
        {keys.slice(0, 12).map((k) => (
          <ScatterPlot key={k} rows={hpRows} hpKey={k} logScale={logKeys.has(k)} metricName={exp.metric} highlighted={highlighted} onHover={hl.hover} onSelect={hl.select} />
        ))}
      </div>
    </div>
  );
}

export function RungsTab({ exp }: { exp: ExperimentDetail }) {
  const rungs = exp.rungs ?? [];
  const max = Math.max(1, ...rungs.map((r) => r.trials));
  const brackets = new Set(rungs.map((r) => r.bracket ?? 0)).size > 1;
  const hasPromoted = rungs.some((r) => r.promoted !== undefined);
  const hasBest = rungs.some((r) => r.best !== undefined);
  return (
    <div className="card" data-testid="rungs-tab">
      <div className="card-head">
        <h3>Trials per rung</h3>
        <span className="muted">
          {exp.searcher}
          {exp.config?.searcher?.divisor ? `, divisor ${exp.config.searcher.divisor}` : ''}
          {exp.config?.searcher?.mode ? `, mode ${exp.config.searcher.mode}` : ''}
        </span>
        {hasPromoted && (
          <span className="legend-inline">
            <span className="swatch" style={{ background: '#9ec1f7', height: 10 }} /> reached
            <span className="swatch" style={{ background: 'var(--accent)', height: 10 }} /> promoted
          </span>
        )}
      </div>
      <table className="table rungs">
        <thead>
          <tr>
            {brackets && <th className="num w-num">Bracket</th>}
            <th className="num w-num">Rung</th>
            <th className="num w-num">Length</th>
            <th className="num w-num">Trials</th>
            {hasPromoted && <th className="num w-num">Promoted</th>}
            {hasBest && <th className="num w-num">Best {exp.metric}</th>}
            <th />
          </tr>
        </thead>
        <tbody>
          {rungs.map((r, i) => (
            <tr key={i} data-rung={r.rung ?? i} data-bracket={r.bracket ?? 0}>
              {brackets && <td className="num">{r.bracket ?? 0}</td>}
              <td className="num">{r.rung ?? i}</td>
              <td className="num">{formatValue(r.length)}</td>
              <td className="num">{r.trials}</td>
              {hasPromoted && <td className="num">{r.promoted ?? '–'}</td>}
              {hasBest && <td className="num">{formatMetric(r.best ?? null)}</td>}
              <td>
                <span className="rung-bar" style={{ width: `${(100 * r.trials) / max}%` }} title={`${r.trials} trials reached length ${r.length}`}>
                  {r.promoted !== undefined && r.trials > 0 && <span className="rung-promoted" style={{ width: `${(100 * r.promoted) / r.trials}%` }} />}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
