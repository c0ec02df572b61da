// A trial's own actions: Kill (that trial only; the searcher is told it exited) while it runs, and Continue once
// it has ended (a new single-trial experiment that trains it further from its latest checkpoint). Used on the
// trial page and in the runs view.
import { useState } from 'react';
import type { TrialSummary } from '@hone/protocol';
import { actionError } from '../actionError';
import { continueTrial, killTrial } from '../mgmtApi';
import { navigate } from '../router';
import { useCurrentUser } from '../session';
import { mayChangeExperiment } from '../permissions';
import { ConfirmDialog } from './ConfirmDialog';
import { notify } from './Toasts';

const ENDED = ['COMPLETED', 'CANCELED', 'ERROR'];

export function TrialActions({ trial, owner, unit, compact, onDone }: { trial: TrialSummary & { user?: string }; owner?: string; unit?: string; compact?: boolean; onDone?: () => void }) {
  const user = useCurrentUser();
  const [pending, setPending] = useState<'kill' | 'continue' | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [length, setLength] = useState(String(Math.max(trial.targetLength, trial.trainedLength) * 2 || 1000));
  const ended = ENDED.includes(trial.state);
  const cls = compact ? 'btn btn-xs' : 'btn btn-sm';
  const perm = mayChangeExperiment(user, owner ?? trial.user ?? '', 'kill trials of');
  const lengthN = Number(length);
  const lengthOk = Number.isInteger(lengthN) && lengthN > trial.trainedLength;

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      if (pending === 'kill') {
        await killTrial(trial.id);
        notify(`Trial ${trial.id} is being killed.`, 'info', 4000);
        onDone?.();
      } else {
        const e = await continueTrial(trial.id, { length: lengthN });
        notify(`Experiment ${e.id} continues trial ${trial.id}.`, 'info', 4000);
        navigate(`/experiments/${e.id}`);
      }
      setPending(null);
    } catch (err) {
      setError(actionError(err, pending === 'kill' ? `kill trial ${trial.id}` : `continue trial ${trial.id}`));
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="actions" onClick={(e) => e.stopPropagation()}>
      {!ended && (
        <span className="action-wrap" title={perm.ok ? undefined : perm.reason}>
          <button type="button" className={`${cls} btn-danger-ghost`} data-action="kill-trial" disabled={!perm.ok} onClick={() => (setError(null), setPending('kill'))}>
            Kill trial
          </button>
        </span>
      )}
      {ended && (
        <button type="button" className={cls} data-action="continue-trial" title="Train further from the latest checkpoint, as a new experiment" disabled={!trial.latestCheckpoint} onClick={() => (setError(null), setPending('continue'))}>
          Continue
        </button>
      )}
      {pending === 'kill' && (
        <ConfirmDialog
          title={`Kill trial ${trial.id}?`}
          body={<>The trial stops now and ends as canceled; the rest of experiment {trial.experimentId} goes on (its searcher is told the trial exited).</>}
          confirmLabel="Kill trial"
          danger
          busy={busy}
          error={error}
          onConfirm={run}
          onCancel={() => setPending(null)}
          testId="kill-trial-dialog"
        />
      )}
      {pending === 'continue' && (
        <ConfirmDialog
          title={`Continue trial ${trial.id}`}
          body={
            <>
              <p>
                A new single-trial experiment trains trial {trial.id} further from its latest checkpoint, with the same model, config and hyperparameters. It has trained {trial.trainedLength}
                {unit ? ` ${unit}` : ''}.
              </p>
              <label className="field">
                Train to a total length of
                <input className="input" value={length} onChange={(e) => setLength(e.target.value.replace(/[^\d]/g, ''))} data-testid="continue-length" autoFocus />
                {unit}
              </label>
              {!lengthOk && <div className="muted small">The length must be a whole number more than {trial.trainedLength}.</div>}
            </>
          }
          confirmLabel="Continue"
          busy={busy}
          disabled={!lengthOk}
          error={error}
          onConfirm={run}
          onCancel={() => setPending(null)}
          testId="continue-dialog"
        />
      )}
    </span>
  );
}
