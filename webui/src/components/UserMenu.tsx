// The signed-in user in the top bar, with a menu to sign out.
import { useEffect, useRef, useState } from 'react';
import { useCurrentUser, signOut } from '../session';
import { navigate } from '../router';

export function UserMenu() {
  const user = useCurrentUser();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  return (
    <div className="user-menu" ref={ref} data-testid="user-menu">
      <button type="button" className="user-button" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)} data-testid="user-button">
        <span className="user-avatar" aria-hidden="true">
          {(user?.username ?? '?').slice(0, 1).toUpperCase()}
        </span>
        <span className="user-name" data-testid="user-name">
          {user?.username ?? '…'}
        </span>
        {user?.admin && <span className="user-admin">admin</span>}
        <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div className="user-dropdown" role="menu">
          <div className="user-dropdown-head">
            Signed in as <b>{user?.username ?? '…'}</b>
            {user && <div className="muted small">{user.admin ? 'Administrator' : 'User'}</div>}
          </div>
          <button
            type="button"
            role="menuitem"
            className="user-dropdown-item"
            data-testid="sign-out"
            onClick={() => {
              setOpen(false);
              void signOut();
              navigate('/login');
            }}
          >
            Sign out
          </button>
        </div>
      )}
    </div>
  );
}
