// Prometheus metrics at /metrics.
import client from 'prom-client';
import type { App, MasterContext } from '../server';

export const metricsRegistry = new client.Registry();

export function registerPrometheus(app: App, ctx: MasterContext): void {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'hone_master_' });
  new client.Gauge({
    name: 'hone_agents_connected',
    help: 'Agents connected to this master',
    registers: [registry],
    collect() {
      this.set(ctx.hub.agents.size);
    },
  });
  new client.Gauge({
    name: 'hone_slots_total',
    help: 'Slots on connected agents',
    registers: [registry],
    collect() {
      let n = 0;
      for (const a of ctx.hub.agents.values()) n += a.devices.length;
      this.set(n);
    },
  });
  const allocs = new client.Gauge({ name: 'hone_allocations', help: 'Live allocations by state', labelNames: ['state'], registers: [registry] });
  const exps = new client.Gauge({ name: 'hone_experiments', help: 'Experiments by state', labelNames: ['state'], registers: [registry] });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    allocs.reset();
    exps.reset();
    const a = await ctx.db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM allocations WHERE state <> 'TERMINATED' GROUP BY state`);
    for (const r of a.rows) allocs.set({ state: r.state }, r.n);
    const e = await ctx.db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM experiments GROUP BY state');
    for (const r of e.rows) exps.set({ state: r.state }, r.n);
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
