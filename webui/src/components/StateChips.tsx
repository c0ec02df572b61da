import { stateLabel } from '../format';

/** Toggle chips that filter by state; with `counts`, each chip says how many items are in its state. */
export function StateChips({ states, selected, onToggle, counts, testId }: {
  states: readonly string[];
  selected: readonly string[];
  onToggle: (state: string) => void;
  counts?: ReadonlyMap<string, number>;
  testId: string;
}) {
  return (
    <div className="chips" data-testid={testId}>
      {states.map((s) => (
        <button key={s} type="button" className={`chip${selected.includes(s) ? ' on' : ''}`} data-state={s} aria-pressed={selected.includes(s)} onClick={() => onToggle(s)}>
          {stateLabel(s)}
          {counts && <span className="chip-count">{counts.get(s) ?? 0}</span>}
        </button>
      ))}
    </div>
  );
}
