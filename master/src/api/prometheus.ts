// Prometheus metrics at /metrics.
import client from 'prom-client';
import type { App, MasterContext } from '../context';
import { countLiveAllocationsByState } from '../db/allocations';
import { countExperimentsByState } from '../db/experiments';

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
