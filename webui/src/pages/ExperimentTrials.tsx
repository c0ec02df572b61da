import { useMemo, useState } from 'react';
import type { ExperimentDetail } from '@hone/protocol';
import { VirtualTable, sortRows, type SortState } from '../components/VirtualTable';
import { saveBlob } from '../api';
import { toCsv } from '../format';
import { hparamKeys, trialColumns, validationKeys, type TrialRow } from './trialColumns';
import type { Highlight } from './highlight';

export function exportTrialsCsv(exp: ExperimentDetail, rows: TrialRow[]): void {
  const hp = hparamKeys(rows);
  const val = validationKeys(rows);
  const header = ['trial_id', 'state', 'steps_completed', `best_${exp.metric}`, ...val.map((k) => `latest_${k}`), ...hp, 'restarts', 'start_time', 'end_time'];
  const data = rows.map((r) => [r.id, r.state, r.completedLength, r.bestValidation, ...val.map((k) => r.latestValidation?.[k]), ...hp.map((k) => r.flat[k]), r.restarts, r.startTime, r.endTime]);
  saveBlob(new Blob([toCsv(header, data)], { type: 'text/csv' }), `experiment-${exp.id}-trials.csv`);
}

export function TrialsTab({ exp, rows, hl }: { exp: ExperimentDetail; rows: TrialRow[]; hl: Highlight }) {
  const [sort, setSort] = useState<SortState | null>({ key: 'best', desc: !exp.smallerIsBetter });
  const [filter, setFilter] = useState('');
  const cols = useMemo(() => trialColumns({ metric: exp.metric, hpKeys: hparamKeys(rows), valKeys: validationKeys(rows) }), [rows, exp.metric]);
  const filtered = useMemo(() => (filter ? rows.filter((r) => r.state.toLowerCase().includes(filter.toLowerCase()) || String(r.id) === filter) : rows), [rows, filter]);
  const sorted = useMemo(() => sortRows(filtered, cols, sort), [filtered, cols, sort]);
  return (
    <div data-testid="trials-tab">
      <div className="toolbar">
        <input className="input" placeholder="Filter by state or id" value={filter} onChange={(e) => setFilter(e.target.value)} />
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
