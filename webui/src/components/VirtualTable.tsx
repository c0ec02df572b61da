// A small windowing table: only the rows in view (plus overscan) are in the DOM, so a 1,000-trial
// experiment renders as fast as a 20-trial one. Fixed row height keeps the arithmetic trivial.
import { useEffect, useRef, useState, type ReactNode } from 'react';

export interface Column<T> {
  key: string;
  title: ReactNode;
  width: number;
  align?: 'left' | 'right' | 'center';
  render: (row: T) => ReactNode;
  /** Present: the header is clickable and sorts by this value. */
  sortValue?: (row: T) => number | string | null | undefined;
  titleText?: string;
}

export interface SortState {
  key: string;
  desc: boolean;
}

interface Props<T> {
  /** The rows; a hole (undefined) is a row not loaded yet, drawn as a placeholder (see onVisibleRange). */
  rows: Array<T | undefined>;
  columns: Column<T>[];
  rowKey: (row: T) => string | number;
  rowHeight?: number;
  height: number | string;
  sort?: SortState | null;
  onSort?: (s: SortState) => void;
  highlighted?: string | number | null;
  selected?: string | number | null;
  onRowClick?: (row: T) => void;
  onRowHover?: (row: T | null) => void;
  testId?: string;
  empty?: ReactNode;
  /** Scroll the row with this key into view when it changes. */
  scrollTo?: string | number | null;
  /** Told the rows [first, last) in the DOM whenever they change: a windowed loader fetches the missing ones. */
  onVisibleRange?: (first: number, last: number) => void;
}

export function sortRows<T>(rows: T[], columns: Column<T>[], sort: SortState | null | undefined): T[] {
  if (!sort) return rows;
  const col = columns.find((c) => c.key === sort.key);
  if (!col?.sortValue) return rows;
  const get = col.sortValue;
  const dir = sort.desc ? -1 : 1;
  return rows
    .map((r) => ({ r, v: get(r) }))
    .sort((a, b) => {
      const av = a.v, bv = b.v;
      const an = av === null || av === undefined || (typeof av === 'number' && !Number.isFinite(av));
      const bn = bv === null || bv === undefined || (typeof bv === 'number' && !Number.isFinite(bv));
      if (an || bn) return an === bn ? 0 : an ? 1 : -1; // missing values always last
      if (typeof av === 'number' && typeof bv === 'number') return (av - bv) * dir;
      return String(av).localeCompare(String(bv), undefined, { numeric: true }) * dir;
    })
    .map((x) => x.r);
}

export function VirtualTable<T>(p: Props<T>) {
  const rowHeight = p.rowHeight ?? 28;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const totalWidth = p.columns.reduce((s, c) => s + c.width, 0);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    setViewport(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (p.scrollTo === null || p.scrollTo === undefined) return;
    const el = scroller.current;
    const i = p.rows.findIndex((r) => r !== undefined && p.rowKey(r) === p.scrollTo);
    if (!el || i < 0) return;
    const top = i * rowHeight;
    const header = rowHeight;
    if (top < el.scrollTop || top + rowHeight > el.scrollTop + el.clientHeight - header) el.scrollTop = Math.max(0, top - el.clientHeight / 3);
    // scroll only when the target changes, not on every data update
  }, [p.scrollTo]);

  const overscan = 8;
  const top = Math.min(scrollTop, Math.max(0, (p.rows.length + 1) * rowHeight - viewport));
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(p.rows.length, Math.ceil((top + viewport) / rowHeight) + overscan);
  // A loop, not slice().map(): map skips the holes of a sparse array, and holes are rows still loading.
  const visible: Array<T | undefined> = [];
  for (let i = first; i < last; i++) visible.push(p.rows[i]);
  const onRange = useRef(p.onVisibleRange);
  onRange.current = p.onVisibleRange;
  useEffect(() => onRange.current?.(first, last), [first, last]);

  return (
    <div
      className="vtable"
      ref={scroller}
      style={{ height: p.height }}
      data-testid={p.testId}
      data-rows={p.rows.length}
      onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}
      onMouseLeave={() => p.onRowHover?.(null)}
    >
      <div className="vt-head" role="row" style={{ width: totalWidth, height: rowHeight }}>
        {p.columns.map((c) => {
          const sorted = p.sort?.key === c.key;
          return (
            <div
              key={c.key}
              role="columnheader"
              className={`vt-cell vt-th${c.sortValue ? ' sortable' : ''}${sorted ? ' sorted' : ''} al-${c.align ?? 'left'}`}
              style={{ width: c.width }}
              title={c.titleText ?? (typeof c.title === 'string' ? c.title : undefined)}
              data-col={c.key}
              aria-sort={sorted ? (p.sort!.desc ? 'descending' : 'ascending') : undefined}
              onClick={c.sortValue && p.onSort ? () => p.onSort!({ key: c.key, desc: sorted ? !p.sort!.desc : false }) : undefined}
            >
              <span className="vt-title">{c.title}</span>
              {sorted && <span className="sort-ind">{p.sort!.desc ? '▼' : '▲'}</span>}
            </div>
          );
        })}
      </div>
      <div className="vt-body" style={{ height: p.rows.length * rowHeight, width: totalWidth }}>
        {visible.map((row, j) => {
          const i = first + j;
          if (row === undefined)
            return (
              <div key={`hole-${i}`} role="row" className={`vt-row vt-loading${i % 2 ? ' odd' : ''}`} style={{ transform: `translateY(${i * rowHeight}px)`, height: rowHeight }} data-row-index={i}>
                <div role="cell" className="vt-cell muted">
                  …
                </div>
              </div>
            );
          const key = p.rowKey(row);
          return (
            <div
              key={key}
              role="row"
              className={`vt-row${i % 2 ? ' odd' : ''}${p.onRowClick ? ' clickable' : ''}`}
              style={{ transform: `translateY(${i * rowHeight}px)`, height: rowHeight }}
              data-row-id={key}
              data-row-index={i}
              data-highlighted={p.highlighted === key ? 'true' : undefined}
              data-selected={p.selected === key ? 'true' : undefined}
              onClick={p.onRowClick ? () => p.onRowClick!(row) : undefined}
              onMouseEnter={p.onRowHover ? () => p.onRowHover!(row) : undefined}
            >
              {p.columns.map((c) => (
                <div key={c.key} role="cell" className={`vt-cell al-${c.align ?? 'left'}`} style={{ width: c.width }}>
                  {c.render(row)}
                </div>
              ))}
            </div>
          );
        })}
        {p.rows.length === 0 && <div className="vt-empty">{p.empty ?? 'Nothing to show'}</div>}
      </div>
    </div>
  );
}
