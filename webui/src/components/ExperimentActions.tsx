// Pause / activate / kill, each behind a confirmation dialog. Used by the list and the experiment header.
// A user who may not change the experiment (not its owner, not an admin) sees the buttons disabled with the
// reason as their tooltip; a refusal by the master (403, e.g. rights changed meanwhile) is shown in the dialog.
import { useState } from 'react';
import type { ExperimentState, ExperimentSummary } from '@hone/protocol';
import { api } from '../api';
import { actionError } from '../actionError';
import { loadCurrentUser, useCurrentUser } from '../session';
import { mayChangeExperiment, type ExperimentVerb } from '../permissions';
import { ConfirmDialog } from './ConfirmDialog';

type Action = Extract<ExperimentVerb, 'pause' | 'activate' | 'kill'>;
const TERMINAL: ExperimentState[] = ['COMPLETED', 'CANCELED', 'ERROR', 'DELETING', 'DELETE_FAILED'];

export function ExperimentActions({ exp, onDone, compact }: { exp: ExperimentSummary; onDone: (e: ExperimentSummary) => void; compact?: boolean }) {
  const user = useCurrentUser();
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
      setError(actionError(err, `${pending} experiment ${exp.id}`));
      // Refused: this user's rights may have changed since the page loaded (no longer an admin); ask again, so the
      // buttons say so from now on.
      if ((err as { status?: number }).status === 403) void loadCurrentUser();
    } finally {
      setBusy(false);
    }
  };
  const cls = compact ? 'btn btn-xs' : 'btn btn-sm';
  const button = (a: Action, label: string, extra = '') => {
    const perm = mayChangeExperiment(user, exp.user, a);
    // A disabled button gets no mouse events in every browser; the wrapper carries the tooltip.
    return (
      <span className="action-wrap" title={perm.ok ? undefined : perm.reason}>
        <button
          type="button"
          className={`${cls} ${extra}`.trim()}
          data-action={a}
          disabled={!perm.ok}
          title={perm.ok ? undefined : perm.reason}
          data-denied={perm.ok ? undefined : 'true'}
          onClick={() => (setError(null), setPending(a))}
        >
          {label}
        </button>
      </span>
    );
  };
  return (
    <span className="actions" onClick={(e) => e.stopPropagation()}>
      {exp.state === 'ACTIVE' && button('pause', 'Pause')}
      {exp.state === 'PAUSED' && button('activate', 'Activate')}
      {!terminal && button('kill', 'Kill', 'btn-danger-ghost')}
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
