import { stateClass } from '../format';

export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`badge ${stateClass(state)}`} data-state={state}>
      {state.replace('STOPPING_', 'STOPPING ').toLowerCase()}
    </span>
  );
}

export function Progress({ value }: { value: number }) {
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return (
    <span className="progress" title={`${pct.toFixed(0)}%`}>
      <span className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-label">{pct.toFixed(0)}%</span>
    </span>
  );
}
