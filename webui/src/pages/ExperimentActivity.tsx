// The experiment's audit log: who created, paused, activated, killed or changed it, and when (newest first).
import type { AuditEntry } from '@hone/protocol/auth';
import { formatLocalTime } from '@hone/protocol/format';
import { auditAction, auditDetails } from '../audit';
import { EmptyRow } from '../components/EmptyRow';

export function ActivityTab({ audit }: { audit: AuditEntry[] | undefined }) {
  const list = [...(audit ?? [])].reverse();
  return (
    <div className="card" data-testid="activity-tab">
      <div className="card-head">
        <h3>Activity</h3>
        <span className="muted">who changed this experiment, newest first</span>
      </div>
      <table className="table activity" data-testid="audit">
        <thead>
          <tr>
            <th className="nowrap">When</th>
            <th>Who</th>
            <th>What</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {list.map((e, i) => (
            <tr key={`${e.at}-${i}`} data-action={e.action} data-user={e.username}>
              <td className="nowrap" title={e.at}>
                {formatLocalTime(e.at)}
              </td>
              <td className="strong audit-user">{e.username}</td>
              <td className="audit-action">{auditAction(e)}</td>
              <td className="mono small audit-details">{auditDetails(e)}</td>
            </tr>
          ))}
          {list.length === 0 && <EmptyRow columns={4}>{audit ? 'Nothing recorded yet.' : 'This master does not record activity.'}</EmptyRow>}
        </tbody>
      </table>
    </div>
  );
}

/** One line for the header: the latest change that is not the creation ("paused by bob · 12:03"). */
export function LastChange({ audit }: { audit: AuditEntry[] | undefined }) {
  const last = [...(audit ?? [])].reverse().find((e) => e.action !== 'create');
  if (!last) return null;
  return (
    <span className="last-change muted" data-testid="last-change" title={last.at}>
      Last change: <b>{last.username}</b> {auditAction(last)}
      {auditDetails(last) ? ` (${auditDetails(last)})` : ''} · {formatLocalTime(last.at)}
    </span>
  );
}
