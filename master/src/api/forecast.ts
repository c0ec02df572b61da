// POST /experiments/forecast: the forecast of a config on a pool (see provisioner/forecast.ts). The body names the
// pool (default: the config's resources.resource_pool) or a number of slots, and the time per unit of length
// (seconds_per_unit, or profile_trial_id: a trial that already ran).
import { Type, type Static } from 'typebox';
import { API_PREFIX, ConfigValidationError, parseExperimentConfig } from '@hone/protocol';
import { HoneError, invalid, notFound } from '@hone/protocol/errors';
import { gridRefusal } from '@hone/protocol/grid';
import type { App, MasterContext } from '../context';
import { trialTiming } from '../db/forecast';
import type { Provisioner } from '../provisioner';
import { checkProviderConfigs } from '../provisioner';
import { DEFAULT_BOOT_SECONDS, forecast, timingFromTrial, type ForecastPool, type ForecastTiming } from '../provisioner/forecast';

export const ForecastBody = Type.Object(
  {
    config: Type.String({ maxLength: 1_000_000 }),
    pool: Type.Optional(Type.String({ maxLength: 200 })),
    slots: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    seconds_per_unit: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e7 })),
    profile_trial_id: Type.Optional(Type.Integer({ minimum: 1 })),
    startup_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    boot_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
  },
  { additionalProperties: false },
);

export function registerForecastRoutes(app: App, ctx: MasterContext, provisioner: Provisioner): void {
  const providers = checkProviderConfigs(ctx.opts.resourcePools);
  app.post(`${API_PREFIX}/experiments/forecast`, { schema: { body: ForecastBody, tags: ['experiments'] } }, async (req) => {
    const body = req.body as Static<typeof ForecastBody>;
    let config;
    try {
      config = parseExperimentConfig(body.config);
    } catch (e) {
      if (e instanceof ConfigValidationError) throw new HoneError('INVALID_CONFIG', `invalid experiment config: ${e.message}`, { errors: e.errors });
      throw e;
    }
    if (config.searcher.name === 'grid') {
      const tooBig = gridRefusal(config.hyperparameters, ctx.opts.maxGridPoints);
      if (tooBig) throw new HoneError('INVALID_CONFIG', `hyperparameters: ${tooBig}`);
    }
    if (body.pool !== undefined && body.slots !== undefined) throw invalid('pool, slots: give one of them, not both');
    if (body.seconds_per_unit !== undefined && body.profile_trial_id !== undefined) throw invalid('seconds_per_unit, profile_trial_id: give one of them, not both');
    let timing: ForecastTiming;
    if (body.profile_trial_id !== undefined) {
      const t = await trialTiming(ctx.db, body.profile_trial_id);
      if (!t) throw notFound('trial', body.profile_trial_id);
      const got = timingFromTrial(t);
      if (typeof got === 'string') throw invalid(`profile_trial_id: ${got}`);
      timing = body.startup_seconds !== undefined ? { ...got, startupSeconds: body.startup_seconds } : got;
    } else if (body.seconds_per_unit !== undefined) {
      timing = { secondsPerUnit: body.seconds_per_unit, startupSeconds: body.startup_seconds ?? 0, gapSeconds: 0, exitSeconds: 0, validationSeconds: 0, checkpointSeconds: 0, source: 'seconds_per_unit' };
    } else throw invalid('seconds_per_unit: give the time per unit of length (or profile_trial_id, a trial that already ran)');

    let pool: ForecastPool;
    const slotsPerTrial = config.resources.slots_per_trial;
    if (body.slots !== undefined) {
      if (body.slots < slotsPerTrial) throw invalid(`slots: a trial needs ${slotsPerTrial} slots (resources.slots_per_trial), got ${body.slots}`);
      pool = { kind: 'fixed', name: `${body.slots} slots`, slots: body.slots, slotsPerAgent: Math.max(1, slotsPerTrial) };
    } else {
      const name = body.pool ?? config.resources.resource_pool;
      const provider = providers.get(name);
      if (provider) {
        if (slotsPerTrial > provider.slots_per_instance && slotsPerTrial % provider.slots_per_instance !== 0) {
          throw invalid(`resources.slots_per_trial: ${slotsPerTrial} slots cannot be placed on whole instances of ${provider.slots_per_instance} slots in pool '${name}'`);
        }
        pool = { kind: 'provisioned', name, provider, bootSeconds: body.boot_seconds ?? DEFAULT_BOOT_SECONDS[provider.type] };
      } else {
        const agents = (await ctx.rm.describeAgents()).filter((a) => a.resourcePool === name && a.state === 'CONNECTED');
        const slots = agents.reduce((n, a) => n + a.slots.length, 0);
        if (!provisioner.pools.includes(name) && slots === 0) throw invalid(`pool: '${name}' has no connected agent and no provider; pass slots (--slots N) to forecast on N slots`);
        const largest = Math.max(...agents.map((a) => a.slots.length));
        if (slotsPerTrial > largest && slotsPerTrial % largest !== 0) throw invalid(`resources.slots_per_trial: ${slotsPerTrial} slots cannot be placed on pool '${name}' (agents of ${largest} slots)`);
        pool = { kind: 'fixed', name, slots, slotsPerAgent: largest };
      }
    }
    return forecast(config, pool, timing);
  });
}
