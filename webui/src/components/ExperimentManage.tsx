// The experiment page's management: Fork (optionally editing the config as YAML), Archive / Unarchive, Edit
// (name, description), labels added and removed in place, and Delete where the master has DELETE /experiments/:id.
import { useEffect, useState } from 'react';
import type { ExperimentDetail, ExperimentSummary } from '@hone/protocol';
import { api } from '../api';
import { actionError } from '../actionError';
import { addLabel, archiveExperiment, deleteExperiment, forkExperiment, patchExperiment, removeLabel } from '../mgmtApi';
import { navigate } from '../router';
import { useCurrentUser } from '../session';
import { mayChangeExperiment, type ExperimentVerb } from '../permissions';
import { afterReady } from '../hooks';
import { ConfirmDialog } from './ConfirmDialog';
import { Markdown } from './Markdown';
import { notify } from './Toasts';
import '../mgmt.css';

let deleteRoute: Promise<boolean> | null = null;
/**
 * Whether the master has DELETE /experiments/:id (deletion with its storage clean-up comes with the background-jobs
 * work): read once from its OpenAPI document. A DELETE answered 404 "Route … not found" or 405 says no as well.
 */
export function hasDeleteRoute(): Promise<boolean> {
  deleteRoute ??= api<{ paths?: Record<string, Record<string, unknown>> }>('/openapi.json').then(
    (d) => !!d.paths?.['/api/v1/experiments/{id}']?.delete,
    () => false,
  );
  return deleteRoute;
}
function noDeleteRoute(): void {
  deleteRoute = Promise.resolve(false);
}

type Pending = 'fork' | 'archive' | 'unarchive' | 'edit' | 'delete';

export function ExperimentManage({ exp, onChange }: { exp: ExperimentDetail; onChange: (e: ExperimentSummary) => void }) {
  const user = useCurrentUser();
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [canDelete, setCanDelete] = useState(false);
  const [editConfig, setEditConfig] = useState(false);
  const [yaml, setYaml] = useState(exp.configYaml);
  const [name, setName] = useState(exp.name);
  const [description, setDescription] = useState(exp.description ?? '');

  useEffect(() => {
    let live = true;
    // Well after the page is drawn: the probe must never compete with the requests the page waits for.
    afterReady(() => void hasDeleteRoute().then((ok) => live && setCanDelete(ok)), 10_000);
    return () => {
      live = false;
    };
  }, []);

  const open = (p: Pending) => {
    setError(null);
    if (p === 'fork') {
      setYaml(exp.configYaml);
      setEditConfig(false);
    }
    if (p === 'edit') {
      setName(exp.name);
      setDescription(exp.description ?? '');
    }
    setPending(p);
  };

  const run = async () => {
    if (!pending) return;
    setBusy(true);
    setError(null);
    try {
      if (pending === 'fork') {
        const changed = editConfig && yaml !== exp.configYaml;
        const e = await forkExperiment(exp.id, changed ? { config: yaml } : {});
        notify(`Forked experiment ${exp.id} as experiment ${e.id}.`, 'info', 4000);
        setPending(null);
        navigate(`/experiments/${e.id}`);
        return;
      }
      if (pending === 'archive' || pending === 'unarchive') onChange(await archiveExperiment(exp.id, pending === 'archive'));
      if (pending === 'edit') {
        const body: { name?: string; description?: string } = {};
        if (name !== exp.name) body.name = name;
        if (description !== (exp.description ?? '')) body.description = description;
        if (Object.keys(body).length) onChange(await patchExperiment(exp.id, body));
      }
      if (pending === 'delete') {
        try {
          await deleteExperiment(exp.id);
        } catch (err) {
          const s = (err as { status?: number }).status;
          if (s === 405 || (s === 404 && /route/i.test((err as Error).message))) {
            noDeleteRoute();
            setCanDelete(false);
            throw new Error('this master cannot delete experiments yet');
          }
          throw err;
        }
        notify(`Experiment ${exp.id} is being deleted.`, 'info', 4000);
        setPending(null);
        navigate('/experiments');
        return;
      }
      setPending(null);
    } catch (err) {
      setError(actionError(err, `${pending} experiment ${exp.id}`));
    } finally {
      setBusy(false);
    }
  };

  const button = (p: Pending, label: string, verb?: ExperimentVerb, extra = '') => {
    const perm = verb ? mayChangeExperiment(user, exp.user, verb) : ({ ok: true } as const);
    return (
      <span className="action-wrap" title={perm.ok ? undefined : perm.reason}>
        <button type="button" className={`btn btn-sm ${extra}`.trim()} data-action={p} disabled={!perm.ok} onClick={() => open(p)}>
          {label}
        </button>
      </span>
    );
  };
  const terminal = ['COMPLETED', 'CANCELED', 'ERROR'].includes(exp.state);

  return (
    <span className="head-actions" data-testid="experiment-manage">
      {button('fork', 'Fork')}
      {button('edit', 'Edit', 'edit')}
      {exp.archived ? button('unarchive', 'Unarchive', 'unarchive') : button('archive', 'Archive', 'archive')}
      {/* Hook for experiment deletion (DELETE /experiments/:id, from the background-jobs work): shown once the master has the route. */}
      {canDelete && button('delete', 'Delete', 'delete', 'btn-danger-ghost')}
      {pending === 'fork' && (
        <ConfirmDialog
          className="dialog-wide"
          testId="fork-dialog"
          title={`Fork experiment ${exp.id}`}
          body={
            <>
              <p>
                A new experiment from <b>{exp.name}</b>&rsquo;s model directory and config{editConfig ? ', with the config as edited below' : ''}. You will own it.
              </p>
              <label className="field">
                <input type="checkbox" checked={editConfig} onChange={(e) => setEditConfig(e.target.checked)} data-testid="fork-edit-config" /> Edit the config (YAML) before forking
              </label>
              {editConfig && <textarea className="yaml-editor" value={yaml} onChange={(e) => setYaml(e.target.value)} spellCheck={false} data-testid="fork-config" />}
            </>
          }
          confirmLabel="Fork"
          busy={busy}
          error={error}
          onConfirm={run}
          onCancel={() => setPending(null)}
        />
      )}
      {(pending === 'archive' || pending === 'unarchive') && (
        <ConfirmDialog
          title={`${pending === 'archive' ? 'Archive' : 'Unarchive'} experiment ${exp.id}?`}
          testId="archive-dialog"
          body={
            pending === 'archive' ? (
              <>
                Archive <b>{exp.name}</b>? It is hidden from the experiment and run lists unless “Show archived” is on; nothing is deleted.
                {!terminal && <p className="muted">It has not ended; the master may refuse to archive it until it does.</p>}
              </>
            ) : (
              <>Unarchive <b>{exp.name}</b>? It is listed again.</>
            )
          }
          confirmLabel={pending === 'archive' ? 'Archive' : 'Unarchive'}
          busy={busy}
          error={error}
          onConfirm={run}
          onCancel={() => setPending(null)}
        />
      )}
      {pending === 'edit' && (
        <ConfirmDialog
          className="dialog-wide"
          testId="edit-dialog"
          title={`Edit experiment ${exp.id}`}
          body={
            <div className="form-grid">
              <label htmlFor="exp-name">Name</label>
              <input id="exp-name" className="input" value={name} onChange={(e) => setName(e.target.value)} data-testid="edit-name" />
              <label htmlFor="exp-desc">Description</label>
              <input id="exp-desc" className="input" value={description} onChange={(e) => setDescription(e.target.value)} data-testid="edit-description" />
            </div>
          }
          confirmLabel="Save"
          busy={busy}
          disabled={!name.trim()}
          error={error}
          onConfirm={run}
          onCancel={() => setPending(null)}
        />
      )}
      {pending === 'delete' && (
        <ConfirmDialog
          title={`Delete experiment ${exp.id}?`}
          testId="delete-dialog"
          body={
            <>
              Delete <b>{exp.name}</b> with its trials, metrics, logs and checkpoints? This cannot be undone.
            </>
          }
          confirmLabel="Delete"
          danger
          busy={busy}
          error={error}
          onConfirm={run}
          onCancel={() => setPending(null)}
        />
      )}
    </span>
  );
}

/** The labels, each removable, and a field to add one (owner or admin). */
export function LabelsEditor({ exp, onChange }: { exp: ExperimentSummary; onChange: (e: ExperimentSummary) => void }) {
  const user = useCurrentUser();
  const perm = mayChangeExperiment(user, exp.user, 'edit');
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const add = async () => {
    const l = text.trim();
    if (!l || exp.labels.includes(l)) return setText('');
    setBusy(true);
    try {
      onChange(await addLabel(exp.id, l));
      setText('');
    } catch (err) {
      notify(actionError(err, `add label “${l}”`));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (l: string) => {
    try {
      onChange(await removeLabel(exp.id, l));
    } catch (err) {
      notify(actionError(err, `remove label “${l}”`));
    }
  };
  return (
    <span className="labels-edit" data-testid="labels">
      {exp.labels.map((l) => (
        <span key={l} className="label-chip" data-label={l}>
          {l}
          {perm.ok && (
            <button type="button" className="chip-x" title={`remove label ${l}`} aria-label={`remove label ${l}`} onClick={() => void remove(l)} data-remove-label={l}>
              ×
            </button>
          )}
        </span>
      ))}
      {perm.ok && (
        <input
          className="input input-sm"
          placeholder="+ label"
          value={text}
          disabled={busy}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => e.key === 'Enter' && void add()}
          data-testid="add-label"
        />
      )}
    </span>
  );
}

/** The notes tab: markdown shown safely, edited as text by the owner or an admin. */
export function NotesTab({ exp, onChange }: { exp: ExperimentDetail; onChange: (notes: string) => void }) {
  const user = useCurrentUser();
  const perm = mayChangeExperiment(user, exp.user, 'edit');
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(exp.notes ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      await patchExperiment(exp.id, { notes: text });
      onChange(text);
      setEditing(false);
    } catch (err) {
      setError(actionError(err, `save the notes of experiment ${exp.id}`));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card" data-testid="notes-tab">
      <div className="card-head">
        <h3>Notes</h3>
        <span className="muted small">Markdown</span>
        <span className="spacer" />
        {!editing && (
          <span className="action-wrap" title={perm.ok ? undefined : perm.reason}>
            <button type="button" className="btn btn-sm" disabled={!perm.ok} onClick={() => (setText(exp.notes ?? ''), setEditing(true))} data-testid="edit-notes">
              Edit
            </button>
          </span>
        )}
      </div>
      {error && <div className="error-box">{error}</div>}
      {editing ? (
        <>
          <textarea className="notes-editor" value={text} onChange={(e) => setText(e.target.value)} data-testid="notes-input" placeholder="Write notes in markdown: what this experiment tries, what you learned." />
          <div className="dialog-actions">
            <button type="button" className="btn" onClick={() => setEditing(false)} disabled={busy}>
              Cancel
            </button>
            <button type="button" className="btn btn-primary" onClick={() => void save()} disabled={busy} data-testid="save-notes">
              {busy ? 'Saving…' : 'Save'}
            </button>
          </div>
        </>
      ) : exp.notes ? (
        <Markdown source={exp.notes} testId="notes" />
      ) : (
        <div className="muted">No notes yet.</div>
      )}
    </div>
  );
}
