// The cluster page's view of pools with a provider: their machines by state, the provisioner's last reasons and
// each machine (GET /provisioner/pools). Draws nothing when no pool has a provider.
import type { ProvisionedPoolInfo } from '@hone/protocol';
import { formatLocalTime } from '@hone/protocol/format';
import { useApi, useSubscription, useThrottle } from '../hooks';
import { EmptyRow } from './EmptyRow';


const STATES = ['requested', 'launching', 'running', 'idle', 'terminating'];

export function ProvisionedPools() {
  const pools = useApi<ProvisionedPoolInfo[]>('/provisioner/pools');
  const refetch = useThrottle(() => pools.reload(), 2000);
  useSubscription('cluster', refetch);
  if (!pools.data?.length) return null;
  return (
    <section className="provisioned" data-testid="provisioned-pools">
      {pools.data.map((p) => (
        <div className="card" key={p.pool} data-provisioned-pool={p.pool}>
          <div className="card-head">
            <h3>
              {p.pool} · {p.provider} autoscaling
            </h3>
            <span className="muted">
              {p.minInstances}–{p.maxInstances} × {p.instanceType}
              {p.hourlyCost !== null ? ` · ${p.hourlyCost}/h` : ''}
            </span>
          </div>
          <div className="pool-stats" data-testid="instances-by-state">
            {STATES.map((s) => (
              <span key={s} data-state={s}>
                <b>{p.instancesByState[s] ?? 0}</b> {s}
              </span>
            ))}
          </div>
          <ul className="muted" data-testid="provisioner-reasons">
            {p.lastReasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
            {p.launchFailures > 0 && <li>launch failures in a row: {p.launchFailures}</li>}
          </ul>
          <table className="table">
            <thead>
              <tr>
                <th>Instance</th>
                <th>State</th>
                <th>Cloud id</th>
                <th>Slots</th>
                <th>Since</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {p.instances.map((i) => (
                <tr key={i.id} data-instance={i.id} data-state={i.state}>
                  <td className="mono">{i.id}</td>
                  <td>{i.state}</td>
                  <td className="mono">{i.cloudId ?? ''}</td>
                  <td>{i.slots}</td>
                  <td>{formatLocalTime(i.terminatedAt ?? i.createdAt)}</td>
                  <td>{i.reason ?? ''}</td>
                </tr>
              ))}
              {p.instances.length === 0 && <EmptyRow columns={6}>No instances.</EmptyRow>}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}
