// Prometheus metrics at /metrics.
import client from 'prom-client';
import type { App, MasterContext } from '../context';
import { countLiveAllocationsByState } from '../db/allocations';
import { countExperimentsByState } from '../db/experiments';
import { countInstancesByState } from '../db/instances';
import type { Provisioner } from '../provisioner';
import { controlPlaneStats } from '../controlPlaneStats';

export function registerPrometheus(app: App, ctx: MasterContext, provisioner?: Provisioner): void {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'hone_master_' });
  new client.Gauge({
    name: 'hone_agents_connected',
    help: 'Agents connected to this master',
    registers: [registry],
    collect() {
      this.set(ctx.rm.capacity().agents);
    },
  });
  new client.Gauge({
    name: 'hone_slots_total',
    help: 'Slots on connected agents',
    registers: [registry],
    collect() {
      this.set(ctx.rm.capacity().slots);
    },
  });
  for (const [name, help, key] of [
    ['hone_scheduling_passes_total', 'Scheduling passes run', 'schedulingPasses'],
    ['hone_scheduling_pass_seconds_total', 'Wall time spent in scheduling passes', 'schedulingPassSeconds'],
    ['hone_searcher_steps_total', 'Searcher steps the experiment controller made', 'searcherSteps'],
    ['hone_searcher_step_seconds_total', 'Wall time spent in searcher steps', 'searcherStepSeconds'],
  ] as const) {
    new client.Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(controlPlaneStats[key]);
      },
    });
  }
  const allocs = new client.Gauge({ name: 'hone_allocations', help: 'Live allocations by state', labelNames: ['state'], registers: [registry] });
  const exps = new client.Gauge({ name: 'hone_experiments', help: 'Experiments by state', labelNames: ['state'], registers: [registry] });
  const instances = new client.Gauge({ name: 'hone_instances', help: 'Provisioned instances by pool and state (not terminated)', labelNames: ['pool', 'state'], registers: [registry] });
  const launches = new client.Counter({ name: 'hone_instance_launches_total', help: 'Instances launched since the master started, by pool and reason', labelNames: ['pool', 'reason'], registers: [registry] });
  const terminations = new client.Counter({ name: 'hone_instance_terminations_total', help: 'Instances terminated since the master started, by pool and reason', labelNames: ['pool', 'reason'], registers: [registry] });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    allocs.reset();
    exps.reset();
    for (const r of await countLiveAllocationsByState(ctx.db)) allocs.set({ state: r.state }, r.n);
    for (const r of await countExperimentsByState(ctx.db)) exps.set({ state: r.state }, r.n);
    if (provisioner?.pools.length) {
      instances.reset();
      launches.reset();
      terminations.reset();
      for (const pool of provisioner.pools) for (const state of ['requested', 'launching', 'running', 'idle', 'terminating']) instances.set({ pool, state }, 0);
      for (const r of await countInstancesByState(ctx.db)) instances.set({ pool: r.pool, state: r.state }, r.n);
      for (const pool of provisioner.pools) {
        const rec = provisioner.reconciler(pool)!;
        for (const [reason, n] of rec.launches) launches.inc({ pool, reason }, n);
        for (const [reason, n] of rec.terminations) terminations.inc({ pool, reason }, n);
      }
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
