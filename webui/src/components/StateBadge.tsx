import { formatPercent } from '@hone/protocol/format';
import { stateClass } from '../format';

export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`badge ${stateClass(state)}`} data-state={state}>
      {state.replace('STOPPING_', 'STOPPING ').toLowerCase()}
    </span>
  );
}

export function Progress({ value }: { value: number }) {
  const fraction = Math.max(0, Math.min(1, value));
  const label = formatPercent(fraction);
  return (
    <span className="progress" title={label}>
      <span className="progress-fill" style={{ width: `${fraction * 100}%` }} />
      <span className="progress-label">{label}</span>
    </span>
  );
}
