// The checkbox that puts a trial in the comparison, and the bar (bottom of the page) that lists the picked trials
// and opens the comparison once two or more are picked.
import { clearCompare, comparePath, MAX_COMPARE, MIN_COMPARE, toggleCompare, useCompareSelection } from '../compareSelection';
import { Link, useLocation } from '../router';
import { notify } from './Toasts';
import '../mgmt.css';

export function CompareCheckbox({ id }: { id: number }) {
  const sel = useCompareSelection();
  const on = sel.includes(id);
  return (
    <input
      type="checkbox"
      className="compare-check"
      checked={on}
      title={on ? 'Remove from the comparison' : 'Add to the comparison'}
      aria-label={`compare trial ${id}`}
      data-compare={id}
      onClick={(e) => e.stopPropagation()}
      onChange={() => {
        if (!toggleCompare(id)) notify(`At most ${MAX_COMPARE} trials can be compared; remove one first.`, 'info');
      }}
    />
  );
}

export function CompareBar() {
  const sel = useCompareSelection();
  const { path } = useLocation();
  if (sel.length === 0 || path === '/compare') return null;
  return (
    <div className="compare-bar" data-testid="compare-bar">
      <b>Compare</b>
      <span className="compare-picked">
        {sel.map((id) => (
          <span key={id} className="label-chip" data-picked={id}>
            <Link to={`/trials/${id}`}>trial {id}</Link>
            <button type="button" className="chip-x" title={`remove trial ${id}`} onClick={() => toggleCompare(id)}>
              ×
            </button>
          </span>
        ))}
      </span>
      <span className="muted small">
        {sel.length}/{MAX_COMPARE}
      </span>
      {sel.length >= MIN_COMPARE ? (
        <Link className="btn btn-sm btn-primary" to={comparePath(sel)} data-testid="open-compare">
          Compare {sel.length} trials
        </Link>
      ) : (
        <span className="muted small">pick at least {MIN_COMPARE}</span>
      )}
      <button type="button" className="btn btn-sm btn-ghost" onClick={clearCompare} data-testid="clear-compare">
        Clear
      </button>
    </div>
  );
}
