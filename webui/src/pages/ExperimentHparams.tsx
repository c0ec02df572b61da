import { useMemo } from 'react';
import type { ExperimentDetail } from '@hone/protocol';
import { ParallelCoordinates, ScatterPlot, type HpRow } from '../components/Charts';
import { Link } from '../router';
import { fmtMetric, fmtValue } from '../format';
import { varyingHparamKeys, type TrialRow } from './trialColumns';
import type { Highlight } from './Experiment';

export function HparamsTab({ exp, rows, hl }: { exp: ExperimentDetail; rows: TrialRow[]; hl: Highlight }) {
  const keys = useMemo(() => varyingHparamKeys(rows), [rows]);
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
              <Link to={`/trials/${hRow.id}`}>trial {hRow.id}</Link> · {exp.metric} {fmtMetric(hRow.bestValidation)} ·{' '}
              {keys
                .slice(0, 4)
                .map((k) => `${k}=${fmtValue(hRow.flat[k])}`)
                .join(' ')}
            </span>
          )}
        </div>
        <ParallelCoordinates rows={hpRows} hpKeys={keys.slice(0, 12)} metricName={exp.metric} smallerIsBetter={exp.smallerIsBetter} highlighted={highlighted} onHover={hl.hover} onSelect={hl.select} />
      </div>
      <div className="scatter-grid">
        {keys.slice(0, 12).map((k) => (
          <ScatterPlot key={k} rows={hpRows} hpKey={k} metricName={exp.metric} highlighted={highlighted} onHover={hl.hover} onSelect={hl.select} />
        ))}
      </div>
    </div>
  );
}

export function RungsTab({ exp }: { exp: ExperimentDetail }) {
  const rungs = exp.rungs ?? [];
  const max = Math.max(1, ...rungs.map((r) => r.trials));
  return (
    <div className="card" data-testid="rungs-tab">
      <div className="card-head">
        <h3>Trials per rung</h3>
        <span className="muted">
          {exp.searcher}
          {exp.config?.searcher?.divisor ? `, divisor ${exp.config.searcher.divisor}` : ''}
          {exp.config?.searcher?.mode ? `, mode ${exp.config.searcher.mode}` : ''}
        </span>
      </div>
      <table className="table rungs">
        <thead>
          <tr>
            <th className="num">Rung</th>
            <th className="num">Length</th>
            <th className="num">Trials</th>
            <th style={{ width: '60%' }} />
          </tr>
        </thead>
        <tbody>
          {rungs.map((r, i) => (
            <tr key={i} data-rung={i}>
              <td className="num">{i}</td>
              <td className="num">{fmtValue(r.length)}</td>
              <td className="num">{r.trials}</td>
              <td>
                <span className="rung-bar" style={{ width: `${(100 * r.trials) / max}%` }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
