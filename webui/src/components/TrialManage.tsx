// On the trial page: the reproducibility record (what the trial ran with) and the Register button of a checkpoint
// (into a model of the registry, chosen or created on the spot).
import { useEffect, useState } from 'react';
import type { CheckpointInfo, ModelInfo, Page, ReproducibilityRecord } from '@hone/protocol';
import { api, download } from '../api';
import { actionError } from '../actionError';
import { createModel, registerVersion } from '../mgmtApi';
import { Link } from '../router';
import { formatLocalTime } from '@hone/protocol/format';
import { ConfirmDialog } from './ConfirmDialog';
import { notify } from './Toasts';
import '../mgmt.css';

export function Reproducibility({ record, experimentId }: { record: ReproducibilityRecord | null; experimentId: number }) {
  const r = record;
  const fetchModelDef = () => download(`/experiments/${experimentId}/model-def`, `experiment-${experimentId}-model-def.tar.gz`).catch((err) => notify(actionError(err, 'download the model definition')));
  return (
    <div className="card repro" data-testid="reproducibility">
      <div className="card-head">
        <h3>Reproducibility</h3>
        <span className="muted">what this trial ran with</span>
        <span className="spacer" />
        <button type="button" className="btn btn-xs" onClick={() => void fetchModelDef()} data-testid="download-model-def" title="The exact model directory the experiment was created with">
          ⤓ Model definition
        </button>
      </div>
      {!r ? (
        <div className="muted" data-testid="reproducibility-none">
          Not recorded yet: the record is taken when the trial first starts.
        </div>
      ) : (
        <table className="table kv">
          <tbody>
            <tr>
              <th>Model directory digest</th>
              <td className="mono" data-testid="repro-digest">
                {r.contextDigest ? `sha256:${r.contextDigest}` : '–'}
              </td>
            </tr>
            <tr>
              <th>Seed</th>
              <td className="mono" data-testid="repro-seed">
                {r.seed}
              </td>
            </tr>
            <tr>
              <th>Harness / TensorFlow.js / Node</th>
              <td className="mono" data-testid="repro-versions">
                {r.harnessVersion ?? '–'} / {r.tfjsVersion ?? '–'} / {r.nodeVersion ?? '–'}
              </td>
            </tr>
            <tr>
              <th>Backend</th>
              <td className="mono" data-testid="repro-backend">
                {r.backend ?? '–'}
              </td>
            </tr>
            <tr>
              <th>Agents and devices</th>
              <td className="mono" data-testid="repro-placement">
                {r.placement.length === 0
                  ? '–'
                  : r.placement.map((p) => {
                      const devs = p.devices.map((d) => {
                        const info = r.devices.find((x) => x.agentId === p.agentId && x.id === d);
                        return info ? `${info.type}${d} (${info.brand})` : `${d}`;
                      });
                      return (
                        <div key={p.agentId}>
                          {p.agentId}: {devs.join(', ') || 'cpu'}
                        </div>
                      );
                    })}
              </td>
            </tr>
            <tr>
              <th>Recorded</th>
              <td>
                {formatLocalTime(r.recordedAt)} <span className="muted mono small">({r.allocationId})</span>
              </td>
            </tr>
            <tr>
              <th>Config as run</th>
              <td>
                <details>
                  <summary>YAML</summary>
                  <pre className="yaml" data-testid="repro-config">
                    {r.configYaml}
                  </pre>
                </details>
              </td>
            </tr>
          </tbody>
        </table>
      )}
    </div>
  );
}

/** A checkpoint's Register button: into an existing model, or a new one named here. */
export function RegisterButton({ checkpoint }: { checkpoint: CheckpointInfo }) {
  const [open, setOpen] = useState(false);
  const [models, setModels] = useState<ModelInfo[] | null>(null);
  const [choice, setChoice] = useState('');
  const [newName, setNewName] = useState('');
  const [newDesc, setNewDesc] = useState('');
  const [notes, setNotes] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!open) return;
    let live = true;
    api<Page<ModelInfo>>('/models?limit=1000').then(
      (p) => {
        if (!live) return;
        setModels(p.items);
        setChoice((c) => c || (p.items.length ? p.items[0]!.name : '\u0000new'));
      },
      (e) => live && (setModels([]), setChoice('\u0000new'), setError(actionError(e, 'list the models'))),
    );
    return () => {
      live = false;
    };
  }, [open]);
  const creating = choice === '\u0000new';
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const name = creating ? newName.trim() : choice;
      if (creating) await createModel({ name, ...(newDesc ? { description: newDesc } : {}) });
      const v = await registerVersion(name, { checkpointUuid: checkpoint.uuid, ...(notes ? { notes } : {}) });
      notify(`Registered as ${v.model} version ${v.version}.`, 'info', 5000);
      setOpen(false);
    } catch (err) {
      setError(actionError(err, `register checkpoint ${checkpoint.uuid.slice(0, 8)}`));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="btn btn-xs" onClick={() => (setError(null), setOpen(true))} data-action="register" title="Register this checkpoint as a new version of a model">
        Register
      </button>
      {open && (
        <ConfirmDialog
          className="dialog-wide"
          testId="register-dialog"
          title={`Register checkpoint ${checkpoint.uuid.slice(0, 8)}`}
          body={
            <div className="form-grid">
              <label htmlFor="reg-model">Model</label>
              <select id="reg-model" className="input" value={choice} onChange={(e) => setChoice(e.target.value)} data-testid="register-model" disabled={models === null}>
                {(models ?? []).map((m) => (
                  <option key={m.name} value={m.name}>
                    {m.name} ({m.numVersions} versions)
                  </option>
                ))}
                <option value={'\u0000new'}>New model…</option>
              </select>
              {creating && (
                <>
                  <label htmlFor="reg-name">New model name</label>
                  <input id="reg-name" className="input" value={newName} onChange={(e) => setNewName(e.target.value)} data-testid="register-new-name" placeholder="letters, digits, . _ -" />
                  <label htmlFor="reg-desc">Description</label>
                  <input id="reg-desc" className="input" value={newDesc} onChange={(e) => setNewDesc(e.target.value)} data-testid="register-new-description" />
                </>
              )}
              <label htmlFor="reg-notes">Version notes</label>
              <input id="reg-notes" className="input" value={notes} onChange={(e) => setNotes(e.target.value)} data-testid="register-notes" />
              <span />
              <span className="muted small">
                Steps {checkpoint.stepsCompleted}, trial {checkpoint.trialId}. A registered checkpoint is never garbage-collected. <Link to="/models">All models</Link>
              </span>
            </div>
          }
          confirmLabel="Register"
          busy={busy}
          disabled={models === null || (creating && !newName.trim())}
          error={error}
          onConfirm={run}
          onCancel={() => setOpen(false)}
        />
      )}
    </>
  );
}
