import { useMemo, useState } from 'react';
import type { ExperimentDetail, TrialState } from '@hone/protocol';
import { VirtualTable, sortRows, type SortState } from '../components/VirtualTable';
import { StateChips } from '../components/StateChips';
import { saveBlob } from '../api';
import { toCsv } from '../format';
import { setQuery, useLocation } from '../router';
import { lengthUnit } from '../experimentConfig';
import { anyFailure, hparamKeys, trialColumns, validationKeys, type TrialRow } from './trialColumns';
import type { Highlight } from './highlight';

/** Trial states in lifecycle order, for the state filter (only states some trial is in get a chip). */
const TRIAL_STATES: TrialState[] = ['ACTIVE', 'PAUSED', 'STOPPING_COMPLETED', 'STOPPING_CANCELED', 'STOPPING_ERROR', 'COMPLETED', 'CANCELED', 'ERROR'];

export function exportTrialsCsv(exp: ExperimentDetail, rows: TrialRow[]): void {
  const hp = hparamKeys(rows);
  const val = validationKeys(rows);
  const header = ['trial_id', 'state', 'steps_completed', `best_${exp.metric}`, ...val.map((k) => `latest_${k}`), ...hp, 'restarts', 'start_time', 'end_time', 'trained_length', 'target_length', 'failure'];
  const data = rows.map((r) => [r.id, r.state, r.completedLength, r.bestValidation, ...val.map((k) => r.latestValidation?.[k]), ...hp.map((k) => r.flat[k]), r.restarts, r.startTime, r.endTime, r.trainedLength, r.targetLength, r.failure]);
  saveBlob(new Blob([toCsv(header, data)], { type: 'text/csv' }), `experiment-${exp.id}-trials.csv`);
}

export function TrialsTab({ exp, rows, hl }: { exp: ExperimentDetail; rows: TrialRow[]; hl: Highlight }) {
  const { query } = useLocation();
  const [sort, setSort] = useState<SortState | null>({ key: 'best', desc: !exp.smallerIsBetter });
  const [filter, setFilter] = useState('');
  const states = (query.get('state') ?? '').split(',').filter((s) => (TRIAL_STATES as string[]).includes(s));
  const counts = useMemo(() => {
    const c = new Map<string, number>();
    for (const r of rows) c.set(r.state, (c.get(r.state) ?? 0) + 1);
    return c;
  }, [rows]);
  const cols = useMemo(
    () => trialColumns({ metric: exp.metric, unit: lengthUnit(exp.config), hpKeys: hparamKeys(rows), valKeys: validationKeys(rows), failures: anyFailure(rows), compare: true }),
    [rows, exp.metric, exp.config],
  );
  const filtered = useMemo(() => {
    const text = filter.trim().toLowerCase();
    return rows.filter((r) => (states.length === 0 || states.includes(r.state)) && (!text || r.state.toLowerCase().includes(text) || String(r.id) === text));
    // the joined state list stands in for the array, which is new on every render
  }, [rows, filter, states.join(',')]);
  const sorted = useMemo(() => sortRows(filtered, cols, sort), [filtered, cols, sort]);
  const toggleState = (s: string) => setQuery({ state: (states.includes(s) ? states.filter((x) => x !== s) : [...states, s]).join(',') }, { replace: true });
  return (
    <div data-testid="trials-tab">
      <div className="toolbar">
        <input className="input" placeholder="Filter by state or id" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <StateChips states={TRIAL_STATES.filter((s) => counts.has(s) || states.includes(s))} selected={states} onToggle={toggleState} counts={counts} testId="trial-state-filter" />
        <span className="muted">{sorted.length} trials</span>
        <span className="spacer" />
        <button type="button" className="btn btn-sm" onClick={() => exportTrialsCsv(exp, sorted)} data-testid="export-trials">
          ⤓ Trials CSV
        </button>
      </div>
      <VirtualTable
        rows={sorted}
        columns={cols}
        rowKey={(r) => r.id}
        height="calc(100vh - 300px)"
        sort={sort}
        onSort={setSort}
        highlighted={hl.hovered ?? hl.selected}
        selected={hl.selected}
        onRowClick={(r) => hl.select(r.id)}
        onRowHover={(r) => hl.hover(r?.id ?? null)}
        testId="trials-table"
        empty="No trials yet."
      />
    </div>
  );
}
