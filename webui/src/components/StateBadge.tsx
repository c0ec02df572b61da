import { formatPercent } from '@hone/protocol/format';
import { stateClass, stateLabel } from '../format';

export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`badge ${stateClass(state)}`} data-state={state}>
      {stateLabel(state)}
    </span>
  );
}

export function Progress({ value, title, testId }: { value: number; title?: string; testId?: string }) {
  const fraction = Math.max(0, Math.min(1, Number.isFinite(value) ? value : 0));
  const label = formatPercent(fraction);
  return (
    <span className="progress" title={title ?? label} data-testid={testId} data-value={fraction}>
      <span className="progress-fill" style={{ width: `${fraction * 100}%` }} />
      <span className="progress-label">{label}</span>
    </span>
  );
}
