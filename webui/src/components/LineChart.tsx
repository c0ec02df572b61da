// Many-series line chart on uPlot. Series are aligned on the union of their x values (steps); trials of
// one experiment validate at the same steps, so the union stays small. Highlighting (a clicked table row
// or the hovered curve) thickens one series and dims the rest, and is mirrored in data-* attributes.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface CurveSeries {
  id: number;
  label: string;
  xs: number[];
  ys: number[];
  color: string;
}

interface Props {
  series: CurveSeries[];
  highlighted: number | null;
  onHover?: (id: number | null) => void;
  log?: boolean;
  height: number;
  xLabel?: string;
  yLabel?: string;
  onDraw?: () => void;
  testId?: string;
}

/** The series on one x axis, and how many points each has that can be drawn (finite, and positive on a log scale). */
function align(series: CurveSeries[], log: boolean): { data: uPlot.AlignedData; drawable: number[] } {
  const xsSet = new Set<number>();
  for (const s of series) for (const x of s.xs) xsSet.add(x);
  const xs = Float64Array.from(xsSet).sort();
  const idx = new Map<number, number>();
  xs.forEach((x, i) => idx.set(x, i));
  const out: Array<ArrayLike<number | null>> = [xs];
  const drawable: number[] = [];
  for (const s of series) {
    const ys: Array<number | null> = new Array(xs.length).fill(null);
    let n = 0;
    for (let i = 0; i < s.xs.length; i++) {
      const y = s.ys[i]!;
      const ok = Number.isFinite(y) && (!log || y > 0);
      ys[idx.get(s.xs[i]!)!] = ok ? y : null;
      if (ok) n++;
    }
    out.push(ys);
    drawable.push(n);
  }
  return { data: out as uPlot.AlignedData, drawable };
}

export function LineChart(p: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const cb = useRef(p);
  cb.current = p;
  // uPlot commits its first layout asynchronously; a redraw before that loses the scales, so the first
  // highlight is baked into the options and the restyle effect skips the commit that created the plot.
  const fresh = useRef(false);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const many = p.series.length > 50;
    const { data, drawable } = align(p.series, !!p.log);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: p.height,
      legend: { show: false },
      focus: { alpha: 1 },
      cursor: {
        focus: { prox: 16 },
        points: { one: true, size: 7 },
        drag: { x: true, y: false },
      },
      scales: { x: { time: false }, y: { distr: p.log ? 3 : 1 } },
      axes: [
        { label: p.xLabel, labelSize: 18, size: 36, stroke: '#5b6270', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#dde1e6' }, font: '11px system-ui, sans-serif', labelFont: '11px system-ui, sans-serif' },
        { label: p.yLabel, labelSize: 18, size: 56, stroke: '#5b6270', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#dde1e6' }, font: '11px system-ui, sans-serif', labelFont: '11px system-ui, sans-serif' },
      ],
      series: [
        {},
        ...p.series.map((s, i) => ({
          label: s.label,
          stroke: s.color,
          ...seriesStyle(s.id, cb.current.highlighted, many),
          spanGaps: true,
          // A line needs two points: a trial that has validated once (an ASHA trial stopped at the bottom rung,
          // a short random search) is drawn as a marker instead of not at all.
          points: drawable[i] === 1 ? { show: true, size: 7, width: 1, stroke: s.color, fill: s.color } : { show: false },
        })),
      ],
      hooks: {
        setSeries: [
          (_u: uPlot, i: number | null) => {
            cb.current.onHover?.(i === null || i === 0 ? null : (cb.current.series[i - 1]?.id ?? null));
          },
        ],
        draw: [() => cb.current.onDraw?.()],
      },
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    fresh.current = true;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height: cb.current.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the data or scale changes; highlight changes below restyle in place.
  }, [p.series, p.log, p.height, p.xLabel, p.yLabel]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    if (fresh.current) {
      fresh.current = false;
      return;
    }
    applyHighlight(u, p.series, p.highlighted, p.series.length > 50);
    u.redraw(true);
  }, [p.highlighted, p.series]);

  return <div ref={host} className="linechart" data-testid={p.testId} data-series={p.series.length} data-highlighted-trial={p.highlighted ?? undefined} />;
}

function seriesStyle(id: number, hl: number | null, many: boolean): { alpha: number; width: number } {
  const on = hl === id;
  // With hundreds of curves, translucent strokes show density instead of a solid block of the last colours.
  return { alpha: on ? 1 : hl === null ? (many ? 0.5 : 1) : many ? 0.1 : 0.18, width: on ? 3 : many ? 1 : 1.5 };
}

function applyHighlight(u: uPlot, series: CurveSeries[], hl: number | null, many: boolean): void {
  series.forEach((s, j) => {
    const us = u.series[j + 1];
    if (us) Object.assign(us, seriesStyle(s.id, hl, many));
  });
}
