// The whole loop on a simulated clock: an ASHA search, the scheduler and the provisioner against a fake cloud
// with boot delays, capacity errors, spot interruptions and leaked instances. The provisioner's invariants are
// checked at every decision over the whole run; its instance-seconds are reported against an oracle.
import { parseExperimentConfig } from '@hone/protocol';
import { describe, expect, it } from 'vitest';
import { simulateCluster, type SimCloud } from './clusterSim';
import { launchBackoff } from './decide';
import { parseProviderConfig } from './config';

const experiment = (over: Record<string, unknown> = {}) =>
  parseExperimentConfig({
    name: 'sim',
    entrypoint: 'model.ts',
    hyperparameters: { lr: { type: 'log', minval: -4, maxval: -1, base: 10 }, width: { type: 'int', minval: 8, maxval: 64 } },
    searcher: { name: 'async_halving', metric: 'loss', max_trials: 64, max_concurrent_trials: 16, max_length: { batches: 1000 }, num_rungs: 4, divisor: 4 },
    resources: { slots_per_trial: 1 },
    ...over,
  });
const provider = (over: Record<string, unknown> = {}) =>
  parseProviderConfig({ type: 'aws', region: 'x', image_id: 'ami', instance_type: 'g5', min_instances: 0, max_instances: 8, slots_per_instance: 2, idle_timeout: 120, max_starting_period: 600, reconcile_interval: 10, ...over }, 'p');

function run(cloud: SimCloud, over: { provider?: Record<string, unknown>; experiment?: Record<string, unknown> } = {}) {
  const violations: string[] = [];
  const p = provider(over.provider);
  const r = simulateCluster({
    config: experiment(over.experiment),
    seed: 7,
    pool: { provider: p, cloud },
    // A few hours of work: 1000 batches at 10 s each for a full-length trial.
    secondsPerUnit: () => 10,
    startupSeconds: 30,
    onViolation: (m) => violations.push(m),
    onDecision: (s, d, now) => {
      const live = s.instances.filter((i) => i.state !== 'terminating');
      const busy = new Set(s.instances.filter((i) => i.busy).map((i) => i.id));
      if (live.length - d.terminate.length + d.launch > p.max_instances) violations.push(`above max at ${now}`);
      for (const t of d.terminate) if (busy.has(t.id)) violations.push(`terminates busy ${t.id} at ${now}`);
      if (!s.listOk && (d.launch || d.terminate.length)) violations.push(`acted on a failed list at ${now}`);
      if (d.launch && s.launchFailures.count && now < s.launchFailures.lastAt + launchBackoff(p, s.launchFailures.count) * 1000) violations.push(`launched during backoff at ${now}`);
      const voluntary = d.terminate.filter((t) => t.reason === 'idle' || t.reason === 'excess').length;
      if (voluntary && live.length - d.terminate.length < p.min_instances) violations.push(`below min at ${now}`);
      // Never more instances than the pending gangs (plus those running work) could use.
      const demand = s.pending.reduce((n, g) => n + Math.ceil(g.slots / p.slots_per_instance), 0);
      if (d.launch > Math.max(demand, p.min_instances)) violations.push(`launched ${d.launch} for ${demand} at ${now}`);
      // An instance is released as idle only after idle_timeout of idleness.
      for (const t of d.terminate) {
        const i = s.instances.find((x) => x.id === t.id)!;
        if (t.reason === 'idle' && (i.idleSince === undefined || now - i.idleSince < p.idle_timeout * 1000)) violations.push(`released ${i.id} before idle_timeout`);
      }
    },
  });
  return { r, violations };
}

describe('cluster simulation: ASHA on an autoscaled pool', () => {
  it('a clean cloud: the search finishes, every invariant holds, instance-seconds within 1.25x the oracle', () => {
    // One slot per instance (g5.xlarge-like): no packing question, so the oracle's bound is tight.
    const { r, violations } = run({ bootSeconds: 90 }, { provider: { slots_per_instance: 1, max_instances: 16 } });
    expect(violations).toEqual([]);
    expect(r.finished).toBe(true);
    expect(r.trials).toBe(64);
    expect(r.peakInstances).toBe(16);
    const ratio = r.instanceSeconds / r.oracleInstanceSeconds;
    console.log(`instance-seconds ${Math.round(r.instanceSeconds)} vs oracle ${Math.round(r.oracleInstanceSeconds)}: ${ratio.toFixed(3)}x; wall clock ${Math.round(r.wallClockSeconds)} s; utilisation ${(r.slotUtilization * 100).toFixed(1)}%`);
    expect(ratio).toBeLessThanOrEqual(1.25);
    // Everything is given back once the search is over.
    expect(r.timeline[r.timeline.length - 1]!.instances).toBe(0);
  });

  it('two slots per instance: 1-slot trials fragment instances in the tail (no migration); reported, bounded loosely', () => {
    const { r, violations } = run({ bootSeconds: 90 });
    expect(violations).toEqual([]);
    const ratio = r.instanceSeconds / r.oracleInstanceSeconds;
    console.log(`2-slot instances: instance-seconds ${Math.round(r.instanceSeconds)} vs oracle ${Math.round(r.oracleInstanceSeconds)}: ${ratio.toFixed(3)}x`);
    expect(ratio).toBeLessThan(1.6);
  });

  it('a hostile cloud: capacity errors, spot interruptions, leaks, list failures and launches that never register', () => {
    const { r, violations } = run({
      bootSeconds: 120,
      capacityError: (t, i) => i < 3 || (t > 2000 && t < 2300),
      interruptAfter: (i) => (i % 3 === 1 ? 700 : undefined),
      listFails: (t) => Math.floor(t / 100) % 7 === 3,
      leaked: 2,
      neverRegisters: (i) => i === 5,
    });
    expect(violations).toEqual([]);
    expect(r.finished).toBe(true);
    expect(r.launchFailures).toBeGreaterThanOrEqual(2);
    expect(r.terminations).toMatchObject({ unknown: 2, 'start-timeout': 1 });
    expect(r.terminations.interrupted).toBeGreaterThan(0);
    expect(r.timeline[r.timeline.length - 1]!.instances).toBe(0);
  });

  it('min_instances are kept and max_slots caps the pool', () => {
    const { r, violations } = run({ bootSeconds: 30 }, { provider: { min_instances: 1 }, experiment: { resources: { slots_per_trial: 1, max_slots: 4 } } });
    expect(violations).toEqual([]);
    expect(r.peakInstances).toBe(2);
    expect(r.timeline[r.timeline.length - 1]!.instances).toBe(1);
  });

  it('fixed slots: no provisioner, the wall clock shrinks with more slots', () => {
    const a = simulateCluster({ config: experiment(), seed: 7, pool: { fixedSlots: 4 }, secondsPerUnit: () => 1 });
    const b = simulateCluster({ config: experiment(), seed: 7, pool: { fixedSlots: 16 }, secondsPerUnit: () => 1 });
    expect(a.finished && b.finished).toBe(true);
    expect(a.unitsTrained).toBe(b.unitsTrained);
    expect(b.wallClockSeconds).toBeLessThan(a.wallClockSeconds);
    expect(a.slotUtilization).toBeGreaterThan(0.5);
  });
});
