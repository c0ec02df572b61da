// Hyperparameter views drawn as SVG: parallel coordinates and hyperparameter-vs-metric scatter plots.
import { useMemo, useState } from 'react';
import { formatMetric, formatValue } from '@hone/protocol/format';

export interface HpRow {
  id: number;
  values: Record<string, unknown>;
  metric: number | null;
}

interface Axis {
  key: string;
  kind: 'num' | 'log' | 'cat';
  min: number;
  max: number;
  cats: string[];
  pos: (v: unknown) => number | null; // 0..1, 0 = bottom
}

/**
 * An axis over the values one key takes. `logScale`: the key is sampled log-uniformly (`type: log` in the config),
 * so it gets a log axis whatever its range; keys the config does not name get one when they span 100× or more.
 */
function makeAxis(key: string, vals: unknown[], logScale?: boolean): Axis {
  const nums = vals.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (nums.length === vals.filter((v) => v !== null && v !== undefined).length && nums.length > 0) {
    let min = Math.min(...nums), max = Math.max(...nums);
    const log = min > 0 && (logScale || max / min >= 100);
    if (log) {
      const lmin = Math.log10(min), lmax = Math.log10(max);
      return { key, kind: 'log', min, max, cats: [], pos: (v) => (typeof v === 'number' && v > 0 ? (lmax === lmin ? 0.5 : (Math.log10(v) - lmin) / (lmax - lmin)) : null) };
    }
    if (min === max) {
      min -= 1;
      max += 1;
    }
    return { key, kind: 'num', min, max, cats: [], pos: (v) => (typeof v === 'number' ? (v - min) / (max - min) : null) };
  }
  const cats = [...new Set(vals.filter((v) => v !== null && v !== undefined).map((v) => formatValue(v)))].sort();
  return { key, kind: 'cat', min: 0, max: cats.length - 1, cats, pos: (v) => (v === null || v === undefined ? null : cats.length === 1 ? 0.5 : cats.indexOf(formatValue(v)) / (cats.length - 1)) };
}

function ticks(a: Axis): Array<{ p: number; label: string }> {
  if (a.kind === 'cat') return a.cats.slice(0, 12).map((c) => ({ p: a.pos(c) ?? 0, label: c }));
  const out: Array<{ p: number; label: string }> = [];
  for (let i = 0; i <= 4; i++) {
    const t = i / 4;
    const v = a.kind === 'log' ? 10 ** (Math.log10(a.min) + t * (Math.log10(a.max) - Math.log10(a.min))) : a.min + t * (a.max - a.min);
    out.push({ p: t, label: formatMetric(v) });
  }
  return out;
}

/** Blue (best) → red (worst) along the metric axis. */
function metricColor(t: number, alpha: number): string {
  const hue = 220 - 220 * Math.max(0, Math.min(1, t));
  return `hsla(${hue}, 70%, 45%, ${alpha})`;
}

export function ParallelCoordinates({ rows, hpKeys, logKeys, metricName, smallerIsBetter, highlighted, onHover, onSelect }: {
  rows: HpRow[];
  hpKeys: string[];
  /** Hyperparameters sampled on a log scale. */
  logKeys: ReadonlySet<string>;
  metricName: string;
  smallerIsBetter: boolean;
  highlighted: number | null;
  onHover: (id: number | null) => void;
  onSelect: (id: number) => void;
}) {
  const width = 1180;
  const height = 340;
  const padX = 60, padTop = 30, padBottom = 24;
  const axes = useMemo(
    () => [...hpKeys.map((k) => makeAxis(k, rows.map((r) => r.values[k]), logKeys.has(k))), makeAxis(metricName, rows.map((r) => r.metric))],
    [rows, hpKeys, logKeys, metricName],
  );
  const metricAxis = axes[axes.length - 1]!;
  const xs = axes.map((_, i) => padX + (axes.length === 1 ? 0 : (i * (width - 2 * padX)) / (axes.length - 1)));
  const y = (p: number) => padTop + (1 - p) * (height - padTop - padBottom);
  const lines = useMemo(
    () =>
      rows.map((r) => {
        const pts: string[] = [];
        axes.forEach((a, i) => {
          const p = a.pos(i === axes.length - 1 ? r.metric : r.values[a.key]);
          if (p !== null) pts.push(`${xs[i]!.toFixed(1)},${y(p).toFixed(1)}`);
        });
        const mp = metricAxis.pos(r.metric);
        const t = mp === null ? 0.5 : smallerIsBetter ? mp : 1 - mp;
        return { id: r.id, d: `M${pts.join('L')}`, t };
      }),
    // xs and y are derived from axes, which is listed
    [rows, axes, smallerIsBetter],
  );
  return (
    <svg className="pcoords" viewBox={`0 0 ${width} ${height}`} width="100%" data-testid="parallel-coordinates" onMouseLeave={() => onHover(null)}>
      <g>
        {lines.map((l) => (
          <path
            key={l.id}
            d={l.d}
            fill="none"
            stroke={metricColor(l.t, highlighted === null ? 0.45 : highlighted === l.id ? 1 : 0.08)}
            strokeWidth={highlighted === l.id ? 3 : 1}
            data-trial-id={l.id}
            data-highlighted={highlighted === l.id ? 'true' : undefined}
            onMouseEnter={() => onHover(l.id)}
            onClick={() => onSelect(l.id)}
            style={{ cursor: 'pointer' }}
          />
        ))}
      </g>
      {axes.map((a, i) => (
        <g key={a.key} transform={`translate(${xs[i]},0)`}>
          <line y1={y(0)} y2={y(1)} stroke="#7b8494" />
          <text y={14} textAnchor="middle" className="axis-title">
            {a.key.length > 22 ? `${a.key.slice(0, 21)}…` : a.key}
            {a.kind === 'log' ? ' (log)' : ''}
          </text>
          {ticks(a).map((t, j) => (
            <g key={j} transform={`translate(0,${y(t.p)})`}>
              <line x2={-4} stroke="#7b8494" />
              <text x={-6} dy="0.32em" textAnchor="end" className="tick">
                {t.label.length > 10 ? `${t.label.slice(0, 9)}…` : t.label}
              </text>
            </g>
          ))}
        </g>
      ))}
    </svg>
  );
}

export function ScatterPlot({ rows, hpKey, logScale, metricName, highlighted, onHover, onSelect }: {
  rows: HpRow[];
  hpKey: string;
  /** The hyperparameter is sampled on a log scale. */
  logScale: boolean;
  metricName: string;
  highlighted: number | null;
  onHover: (id: number | null) => void;
  onSelect: (id: number) => void;
}) {
  const w = 280, h = 200, pl = 50, pr = 10, pt = 10, pb = 30;
  const xa = useMemo(() => makeAxis(hpKey, rows.map((r) => r.values[hpKey]), logScale), [rows, hpKey, logScale]);
  const ya = useMemo(() => makeAxis(metricName, rows.map((r) => r.metric)), [rows, metricName]);
  const [tip, setTip] = useState<string | null>(null);
  const X = (p: number) => pl + p * (w - pl - pr);
  const Y = (p: number) => pt + (1 - p) * (h - pt - pb);
  return (
    <figure className="scatter" data-testid={`scatter-${hpKey}`} data-scale={xa.kind}>
      <figcaption>
        {hpKey}
        {xa.kind === 'log' ? ' (log)' : ''} <span className="muted">vs {metricName}</span>
        {tip && <span className="scatter-tip">{tip}</span>}
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} width={w} height={h} onMouseLeave={() => (onHover(null), setTip(null))}>
        <rect x={pl} y={pt} width={w - pl - pr} height={h - pt - pb} fill="#fafbfc" stroke="#e3e6ea" />
        {ticks(ya).map((t, j) => (
          <text key={j} x={pl - 4} y={Y(t.p)} dy="0.32em" textAnchor="end" className="tick">
            {t.label}
          </text>
        ))}
        {ticks(xa)
          .filter((_, j, all) => all.length <= 6 || j % 2 === 0)
          .map((t, j) => (
            <text key={j} x={X(t.p)} y={h - pb + 14} textAnchor="middle" className="tick">
              {t.label.length > 8 ? `${t.label.slice(0, 7)}…` : t.label}
            </text>
          ))}
        {rows.map((r) => {
          const px = xa.pos(r.values[hpKey]);
          const py = ya.pos(r.metric);
          if (px === null || py === null) return null;
          const on = highlighted === r.id;
          return (
            <circle
              key={r.id}
              cx={X(px)}
              cy={Y(py)}
              r={on ? 5 : 2.5}
              fill={on ? '#e8590c' : 'rgba(38, 110, 220, 0.55)'}
              data-trial-id={r.id}
              onMouseEnter={() => (onHover(r.id), setTip(`trial ${r.id}: ${formatValue(r.values[hpKey])} → ${formatMetric(r.metric)}`))}
              onClick={() => onSelect(r.id)}
              style={{ cursor: 'pointer' }}
            />
          );
        })}
      </svg>
    </figure>
  );
}
