// Prometheus metrics at /metrics.
import client from 'prom-client';
import type { App, MasterContext } from '../context';
import { countLiveAllocationsByState } from '../db/allocations';
import { countExperimentsByState } from '../db/experiments';
import { controlPlaneStats } from '../controlPlaneStats';

export function registerPrometheus(app: App, ctx: MasterContext): void {
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
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    allocs.reset();
    exps.reset();
    for (const r of await countLiveAllocationsByState(ctx.db)) allocs.set({ state: r.state }, r.n);
    for (const r of await countExperimentsByState(ctx.db)) exps.set({ state: r.state }, r.n);
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
