import type { TrialSummary } from '@hone/protocol';
import type { Column } from '../components/VirtualTable';
import { StateBadge } from '../components/StateBadge';
import { Link } from '../router';
import { formatMetric, formatValue } from '@hone/protocol/format';
import { flattenHParams } from '../format';
import { lengthText } from '../experimentConfig';
import { CompareCheckbox } from '../components/CompareBar';

export interface TrialRow extends TrialSummary {
  flat: Record<string, unknown>;
}

export function toRows(trials: TrialSummary[]): TrialRow[] {
  return trials.map((t) => ({ ...t, flat: flattenHParams(t.hparams ?? {}) }));
}

/** Hyperparameters that vary across trials first; constants are still shown, after them. */
export function hparamKeys(rows: TrialRow[]): string[] {
  const keys = new Map<string, Set<string>>();
  for (const r of rows) for (const [k, v] of Object.entries(r.flat)) {
    let s = keys.get(k);
    if (!s) keys.set(k, (s = new Set()));
    if (s.size < 2) s.add(JSON.stringify(v));
  }
  return [...keys.entries()].sort((a, b) => b[1].size - a[1].size || a[0].localeCompare(b[0])).map(([k]) => k);
}

export function varyingHparamKeys(rows: TrialRow[]): string[] {
  const keys = new Map<string, Set<string>>();
  for (const r of rows) for (const [k, v] of Object.entries(r.flat)) {
    let s = keys.get(k);
    if (!s) keys.set(k, (s = new Set()));
    if (s.size < 2) s.add(JSON.stringify(v));
  }
  return [...keys.entries()].filter(([, s]) => s.size > 1).map(([k]) => k);
}

export function validationKeys(rows: TrialRow[]): string[] {
  const s = new Set<string>();
  for (const r of rows.slice(0, 200)) for (const k of Object.keys(r.latestValidation ?? {})) s.add(k);
  return [...s].sort();
}

/** Whether any trial has a failure to show (the Failure column is left out when none has). */
export function anyFailure(rows: TrialRow[]): boolean {
  return rows.some((r) => r.failure);
}

/** The column of checkboxes that pick trials for the comparison (compareSelection.ts). */
export function compareColumn<T extends { id: number }>(): Column<T> {
  return { key: 'compare', title: '⇆', titleText: 'pick trials to compare (2–10)', width: 34, align: 'center', render: (r) => <CompareCheckbox id={r.id} /> };
}

export function trialColumns(opts: { metric: string; unit: string; hpKeys: string[]; valKeys: string[]; failures?: boolean; compare?: boolean }): Column<TrialRow>[] {
  const cols: Column<TrialRow>[] = [
    ...(opts.compare ? [compareColumn<TrialRow>()] : []),
    { key: 'id', title: 'Trial', width: 70, align: 'right', sortValue: (r) => r.id, render: (r) => <Link to={`/trials/${r.id}`} onClick={(e) => e.stopPropagation()}>{r.id}</Link> },
    { key: 'state', title: 'State', width: 110, sortValue: (r) => r.state, render: (r) => <StateBadge state={r.state} /> },
    {
      key: 'length',
      title: opts.unit ? opts.unit[0]!.toUpperCase() + opts.unit.slice(1) : 'Length',
      titleText: `length trained${opts.unit ? ` (${opts.unit})` : ''}, of the length asked for`,
      width: 90,
      align: 'right',
      sortValue: (r) => r.trainedLength,
      render: (r) => <span title={`${lengthText(r.trainedLength, r.targetLength, opts.unit)} (validated at ${formatValue(r.completedLength)})`}>{formatValue(r.trainedLength)}</span>,
    },
    { key: 'best', title: `Best ${opts.metric}`, titleText: `best validation ${opts.metric}`, width: 120, align: 'right', sortValue: (r) => r.bestValidation, render: (r) => <b>{formatMetric(r.bestValidation)}</b> },
    ...(opts.failures
      ? [
          {
            key: 'failure',
            title: 'Failure',
            width: 320,
            sortValue: (r: TrialRow) => r.failure,
            render: (r: TrialRow) => (r.failure ? <span className="failure-cell" title={r.failure}>{r.failure}</span> : null),
          },
        ]
      : []),
    ...opts.valKeys.map<Column<TrialRow>>((k) => ({
      key: `v:${k}`,
      title: `latest ${k}`,
      width: 110,
      align: 'right',
      sortValue: (r) => r.latestValidation?.[k],
      render: (r) => formatMetric(r.latestValidation?.[k]),
    })),
    ...opts.hpKeys.map<Column<TrialRow>>((k) => ({
      key: `h:${k}`,
      title: k,
      width: Math.min(160, Math.max(90, k.length * 7 + 20)),
      align: 'right',
      sortValue: (r) => {
        const v = r.flat[k];
        return typeof v === 'number' ? v : v === undefined ? null : JSON.stringify(v);
      },
      render: (r) => formatValue(r.flat[k]),
    })),
    { key: 'restarts', title: 'Restarts', width: 72, align: 'right', sortValue: (r) => r.restarts, render: (r) => r.restarts },
  ];
  return cols;
}
