// Pause / activate / kill, each behind a confirmation dialog. Used by the list and the experiment header.
import { useState } from 'react';
import type { ExperimentState, ExperimentSummary } from '@hone/protocol';
import { api } from '../api';
import { ConfirmDialog } from './ConfirmDialog';

type Action = 'pause' | 'activate' | 'kill';
const TERMINAL: ExperimentState[] = ['COMPLETED', 'CANCELED', 'ERROR'];

export function ExperimentActions({ exp, onDone, compact }: { exp: ExperimentSummary; onDone: (e: ExperimentSummary) => void; compact?: boolean }) {
  const [pending, setPending] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const terminal = TERMINAL.includes(exp.state) || exp.state.startsWith('STOPPING');
  const run = async () => {
    if (!pending) return;
    setBusy(true);
    setError(null);
    try {
      const e = await api<ExperimentSummary>(`/experiments/${exp.id}/${pending}`, { method: 'POST' });
      onDone(e);
      setPending(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const cls = compact ? 'btn btn-xs' : 'btn btn-sm';
  return (
    <span className="actions" onClick={(e) => e.stopPropagation()}>
      {exp.state === 'ACTIVE' && (
        <button type="button" className={cls} data-action="pause" onClick={() => setPending('pause')}>
          Pause
        </button>
      )}
      {exp.state === 'PAUSED' && (
        <button type="button" className={cls} data-action="activate" onClick={() => setPending('activate')}>
          Activate
        </button>
      )}
      {!terminal && (
        <button type="button" className={`${cls} btn-danger-ghost`} data-action="kill" onClick={() => setPending('kill')}>
          Kill
        </button>
      )}
      {pending && (
        <ConfirmDialog
          title={`${pending[0]!.toUpperCase()}${pending.slice(1)} experiment ${exp.id}?`}
          body={
            pending === 'kill' ? (
              <>Kill <b>{exp.name}</b>? Its running trials stop immediately and the experiment ends as canceled.</>
            ) : pending === 'pause' ? (
              <>Pause <b>{exp.name}</b>? Running trials checkpoint and release their slots.</>
            ) : (
              <>Activate <b>{exp.name}</b>? Its trials are scheduled again.</>
            )
          }
          confirmLabel={pending === 'kill' ? 'Kill' : pending === 'pause' ? 'Pause' : 'Activate'}
          danger={pending === 'kill'}
          busy={busy}
          error={error}
          onConfirm={run}
          onCancel={() => (setPending(null), setError(null))}
        />
      )}
    </span>
  );
}
