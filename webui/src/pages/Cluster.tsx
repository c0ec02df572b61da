import { useEffect } from 'react';
import type { AgentInfo, JobInfo, ResourcePoolInfo } from '@hone/protocol';
import { useApi, useSubscription, useThrottle, markReady } from '../hooks';
import { Link } from '../router';
import { formatLocalTime } from '@hone/protocol/format';
import { StateBadge } from '../components/StateBadge';
import { EmptyRow } from '../components/EmptyRow';
import { ProvisionedPools } from '../components/ProvisionedPools';

function Utilization({ used, total, testId }: { used: number; total: number; testId?: string }) {
  const pct = total ? (100 * used) / total : 0;
  return (
    <div className="util" data-testid={testId} title={`${used} of ${total} slots busy`}>
      <div className="util-bar">
        <div className="util-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="util-label">
        {used}/{total} slots · {pct.toFixed(0)}%
      </span>
    </div>
  );
}

export function ClusterPage() {
  const pools = useApi<ResourcePoolInfo[]>('/resource-pools');
  const agents = useApi<AgentInfo[]>('/agents');
  const jobs = useApi<JobInfo[]>('/jobs');
  // 'cluster' messages are hints; a burst of them becomes one refetch of the three lists every 2 s.
  const refetch = useThrottle(() => (pools.reload(), agents.reload(), jobs.reload()), 2000);
  useSubscription('cluster', refetch);
  const loaded = !!pools.data && !!agents.data && !!jobs.data;
  useEffect(() => {
    if (loaded) markReady();
  }, [loaded]);

  const totalSlots = (pools.data ?? []).reduce((s, p) => s + p.slots, 0);
  const usedSlots = (pools.data ?? []).reduce((s, p) => s + p.slotsUsed, 0);
  const err = pools.error ?? agents.error ?? jobs.error;
  const queue = [...(jobs.data ?? [])].sort((a, b) => a.position - b.position);

  return (
    <div className="page" data-testid="cluster-page">
      <div className="page-head">
        <h1>Cluster</h1>
        <Utilization used={usedSlots} total={totalSlots} testId="cluster-utilization" />
      </div>
      {err && <div className="error-box">Could not load cluster state: {err.message}</div>}
      <section className="pools" data-testid="pools">
        {(pools.data ?? []).map((p) => (
          <div className="card pool" key={p.name} data-pool={p.name}>
            <div className="card-head">
              <h3>{p.name}</h3>
              <span className="muted">
                {p.agents} agent{p.agents === 1 ? '' : 's'}
              </span>
            </div>
            <Utilization used={p.slotsUsed} total={p.slots} />
            <div className="pool-stats">
              <span>
                <b>{p.slots - p.slotsUsed}</b> free
              </span>
              <span>
                <b>{p.pendingAllocations}</b> pending job{p.pendingAllocations === 1 ? '' : 's'}
              </span>
              <span>
                <b>{p.pendingSlots}</b> slots requested
              </span>
            </div>
          </div>
        ))}
        {pools.data?.length === 0 && <div className="muted">No resource pools.</div>}
      </section>
      <ProvisionedPools />

      <div className="cluster-grid">
        <div className="card">
          <div className="card-head">
            <h3>Agents</h3>
            <span className="muted">{agents.data?.length ?? 0}</span>
          </div>
          <table className="table" data-testid="agents">
            <thead>
              <tr>
                <th>Agent</th>
                <th>Pool</th>
                <th>State</th>
                <th>Slots</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {(agents.data ?? []).map((a) => (
                <tr key={a.id} data-agent={a.id}>
                  <td>
                    <div className="strong">{a.id}</div>
                    <div className="muted small">
                      {a.hostname}
                      {a.version ? ` · v${a.version}` : ''}
                    </div>
                  </td>
                  <td>{a.resourcePool}</td>
                  <td>
                    <span className={`badge ${a.state === 'CONNECTED' ? 'st-active' : 'st-error'}`}>{a.state.toLowerCase()}</span>
                  </td>
                  <td>
                    <div className="slots">
                      {a.slots.map((s) =>
                        s.trialId !== null ? (
                          <Link
                            key={s.id}
                            to={`/trials/${s.trialId}`}
                            className="slot busy"
                            data-slot={s.id}
                            data-busy="true"
                            title={`${s.type.toUpperCase()} ${s.id} (${s.brand}) — trial ${s.trialId} of experiment ${s.experimentId}`}
                          >
                            <span className="slot-id">{s.type}{s.id}</span>
                            <span className="slot-trial">T{s.trialId}</span>
                          </Link>
                        ) : (
                          <span key={s.id} className="slot free" data-slot={s.id} title={`${s.type.toUpperCase()} ${s.id} (${s.brand}) — free`}>
                            <span className="slot-id">{s.type}{s.id}</span>
                            <span className="slot-trial">free</span>
                          </span>
                        ),
                      )}
                    </div>
                  </td>
                  <td className="nowrap">{formatLocalTime(a.lastSeen)}</td>
                </tr>
              ))}
              {agents.data?.length === 0 && (
                <EmptyRow columns={5}>
                  No agents connected. Start one with <code>node --import tsx agent/src/main.ts --master &lt;this master&gt;</code>, or install one with <code>deploy/install-agent.sh</code>.
                </EmptyRow>
              )}
            </tbody>
          </table>
        </div>

        <div className="card">
          <div className="card-head">
            <h3>Job queue</h3>
            <span className="muted">{queue.length}</span>
          </div>
          <table className="table" data-testid="job-queue">
            <thead>
              <tr>
                <th className="num">#</th>
                <th>Job</th>
                <th>State</th>
                <th className="num">Slots</th>
                <th>Pool</th>
                <th className="num">Prio</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {queue.map((j) => (
                <tr key={j.allocationId} data-allocation={j.allocationId}>
                  <td className="num">{j.position}</td>
                  <td className="nowrap">
                    <Link to={`/trials/${j.trialId}`}>trial {j.trialId}</Link>{' '}
                    <span className="muted small">
                      (<Link to={`/experiments/${j.experimentId}`}>exp {j.experimentId}</Link>)
                    </span>
                    <div className="muted small">{formatLocalTime(j.submittedAt)}</div>
                  </td>
                  <td>
                    <StateBadge state={j.state} />
                  </td>
                  <td className="num">{j.slots}</td>
                  <td>{j.resourcePool}</td>
                  <td className="num">{j.priority}</td>
                  <td className="reason">{j.reason ?? (j.state === 'PENDING' ? 'waiting' : '–')}</td>
                </tr>
              ))}
              {jobs.data?.length === 0 && (
                <EmptyRow columns={7}>The queue is empty.</EmptyRow>
              )}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}
