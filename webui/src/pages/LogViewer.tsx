// Live log viewer: the tail from REST, then new lines from the 'logs:<id>' topic; after a reconnect the
// gap is filled with after_id fetches. Lines are windowed, so a long log stays cheap to render.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { TaskLog } from '@hone/protocol';
import { api, saveBlob } from '../api';
import { stream } from '../stream';
import { useSubscription } from '../hooks';

const LINE_H = 18;
const MAX_LINES = 100_000;
const PAGE = 5000;

function fmtLine(l: TaskLog): string {
  return `${l.ts} ${l.rank === null ? '' : `[rank=${l.rank}] `}${l.level} ${l.line}`;
}

export function LogViewer({ trialId, onReady }: { trialId: number; onReady?: () => void }) {
  const [logs, setLogs] = useState<TaskLog[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const lastId = useRef(0);
  const pending = useRef<TaskLog[]>([]);
  const raf = useRef<number | null>(null);

  const append = (batch: TaskLog[]) => {
    const fresh = batch.filter((l) => l.id > lastId.current).sort((a, b) => a.id - b.id);
    if (!fresh.length) return;
    lastId.current = fresh[fresh.length - 1]!.id;
    setLogs((prev) => {
      const next = prev.concat(fresh);
      return next.length > MAX_LINES ? next.slice(next.length - MAX_LINES) : next;
    });
  };

  const catchUp = async () => {
    for (;;) {
      const page = await api<TaskLog[]>(`/trials/${trialId}/logs?after_id=${lastId.current}&limit=${PAGE}`);
      append(page);
      if (page.length < PAGE) break;
    }
  };

  useEffect(() => {
    let live = true;
    api<TaskLog[]>(`/trials/${trialId}/logs?tail=2000`).then(
      (l) => {
        if (!live) return;
        append(l);
        setLoaded(true);
        // Lines that arrived between the tail request and the subscription are fetched once.
        void catchUp().catch(() => undefined);
      },
      (e: Error) => live && (setError(e.message), setLoaded(true)),
    );
    const off = stream.onReconnect(() => void catchUp().catch((e: Error) => setError(e.message)));
    return () => {
      live = false;
      off();
      if (raf.current !== null) cancelAnimationFrame(raf.current);
    };
    // append and catchUp read refs; this runs once per trial
  }, [trialId]);

  // Bursts of log messages are applied once per animation frame.
  useSubscription(`logs:${trialId}`, (m) => {
    if (m.type !== 'log') return;
    pending.current.push(m.log);
    if (raf.current === null)
      raf.current = requestAnimationFrame(() => {
        raf.current = null;
        const b = pending.current;
        pending.current = [];
        append(b);
      });
  });

  const [rank, setRank] = useState('');
  const [level, setLevel] = useState('');
  const [text, setText] = useState('');
  const [follow, setFollow] = useState(true);
  const ranks = useMemo(() => [...new Set(logs.map((l) => l.rank).filter((r): r is number => r !== null))].sort((a, b) => a - b), [logs]);
  const levels = useMemo(() => [...new Set(logs.map((l) => l.level))].sort(), [logs]);
  const shown = useMemo(() => {
    const t = text.toLowerCase();
    return logs.filter((l) => (rank === '' || String(l.rank) === rank) && (level === '' || l.level === level) && (!t || l.line.toLowerCase().includes(t)));
  }, [logs, rank, level, text]);

  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [vh, setVh] = useState(500);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setVh(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    const el = box.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [shown.length, follow]);
  useEffect(() => {
    if (loaded) onReady?.();
  }, [loaded, onReady]);

  // The browser clamps scrollTop when a filter shortens the list without always firing a scroll event.
  const top = Math.min(scrollTop, Math.max(0, shown.length * LINE_H - vh));
  const first = Math.max(0, Math.floor(top / LINE_H) - 20);
  const last = Math.min(shown.length, Math.ceil((top + vh) / LINE_H) + 20);

  const download = async () => {
    const all: TaskLog[] = [];
    let after = 0;
    try {
      for (;;) {
        const page = await api<TaskLog[]>(`/trials/${trialId}/logs?after_id=${after}&limit=${PAGE}`);
        all.push(...page);
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.id;
      }
    } catch {
      all.splice(0, all.length, ...logs);
    }
    saveBlob(new Blob([all.map(fmtLine).join('\n') + '\n'], { type: 'text/plain' }), `trial-${trialId}-logs.txt`);
  };

  return (
    <div className="logviewer" data-testid="log-viewer">
      <div className="toolbar">
        <select className="input" value={rank} onChange={(e) => setRank(e.target.value)} data-testid="log-rank">
          <option value="">All ranks</option>
          {ranks.map((r) => (
            <option key={r} value={String(r)}>
              rank {r}
            </option>
          ))}
        </select>
        <select className="input" value={level} onChange={(e) => setLevel(e.target.value)} data-testid="log-level">
          <option value="">All levels</option>
          {levels.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
        <input className="input grow" placeholder="Search log text" value={text} onChange={(e) => setText(e.target.value)} data-testid="log-search" />
        <label className="field">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} data-testid="log-follow" /> Follow
        </label>
        <span className="muted nowrap">
          {shown.length === logs.length ? `${logs.length} lines` : `${shown.length} of ${logs.length} lines`}
        </span>
        <button type="button" className="btn btn-sm" onClick={() => void download()} data-testid="log-download">
          ⤓ Download
        </button>
      </div>
      {error && <div className="error-box">Could not load logs: {error}</div>}
      <div
        className="log-box"
        ref={box}
        data-testid="log-lines"
        data-count={shown.length}
        onScroll={(e) => {
          const el = e.target as HTMLDivElement;
          setScrollTop(el.scrollTop);
          const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < LINE_H * 2;
          if (follow !== atBottom) setFollow(atBottom);
        }}
      >
        <div style={{ height: shown.length * LINE_H, position: 'relative' }}>
          {shown.slice(first, last).map((l, j) => (
            <div key={l.id} className={`log-line lvl-${l.level.toLowerCase()}`} style={{ top: (first + j) * LINE_H }} data-log-id={l.id}>
              <span className="log-ts">{l.ts.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')}</span>
              {l.rank !== null && <span className="log-rank">[{l.rank}]</span>}
              <span className="log-lvl">{l.level}</span>
              <span className="log-text">{l.line}</span>
            </div>
          ))}
        </div>
        {loaded && logs.length === 0 && <div className="log-empty">No log lines yet. New lines appear here as the trial writes them.</div>}
      </div>
    </div>
  );
}
