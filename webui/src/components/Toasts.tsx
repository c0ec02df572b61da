// Messages that outlive the click that caused them (a refused download, an action the master denied): shown in
// a corner for a few seconds, never as an error page. `notify` may be called from anywhere.
import { useEffect, useState } from 'react';

export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

let nextId = 1;
let toasts: Toast[] = [];
const listeners = new Set<(t: Toast[]) => void>();

function set(t: Toast[]): void {
  toasts = t;
  for (const l of [...listeners]) l(toasts);
}

export function notify(text: string, kind: Toast['kind'] = 'error', ms = 8000): void {
  const t: Toast = { id: nextId++, kind, text };
  set([...toasts.slice(-4), t]);
  setTimeout(() => set(toasts.filter((x) => x.id !== t.id)), ms);
}

export function Toasts() {
  const [list, setList] = useState(toasts);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  if (!list.length) return null;
  return (
    <div className="toasts" role="status" aria-live="polite" data-testid="toasts">
      {list.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} data-testid="toast">
          <span>{t.text}</span>
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => set(toasts.filter((x) => x.id !== t.id))}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
