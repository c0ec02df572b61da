import { useEffect, useRef, type ReactNode } from 'react';

interface Props {
  title: string;
  body: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
  /** Extra class on the dialog (`dialog-wide` for forms); the confirm button is disabled while `disabled`. */
  className?: string;
  disabled?: boolean;
  testId?: string;
}

export function ConfirmDialog(p: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className={`dialog${p.className ? ` ${p.className}` : ''}`} data-testid={p.testId ?? 'confirm-dialog'} onCancel={(e) => (e.preventDefault(), p.onCancel())}>
      <h3>{p.title}</h3>
      <div className="dialog-body">{p.body}</div>
      {p.error && <div className="error-box">{p.error}</div>}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={p.onCancel} disabled={p.busy}>
          Cancel
        </button>
        <button type="button" className={`btn ${p.danger ? 'btn-danger' : 'btn-primary'}`} onClick={p.onConfirm} disabled={p.busy || p.disabled} data-testid="confirm">
          {p.busy ? 'Working…' : p.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
