// Trial management under /api/v1/trials: kill one trial, continue an ended trial as a new experiment, compare
// trials side by side, and the harness's part of the reproducibility record.
import { Type } from 'typebox';
import type { TrialComparison } from '@hone/protocol';
import { API_PREFIX, TERMINAL_TRIAL_STATES } from '@hone/protocol';
import { flattenValues } from '@hone/protocol/hyperparameters';
import type { App, MasterContext } from '../context';
import { requireOwnerOrAdmin } from '../auth/permissions';
import * as experimentsDb from '../db/experiments';
import { completeReproducibility, getTrialSummary, getTrialsWithExperiment } from '../db/trials';
import { HoneError, invalid, notFound } from '../errors';
import { constHyperparameters, mergeOverrides } from '../experiments/configOverrides';
import { submitExperiment } from '../experiments/submit';
import { originalConfig, overridesOf } from './experimentManagement';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const Str = (max: number) => Type.String({ minLength: 1, maxLength: max });

export function registerTrialManagementRoutes(app: App, ctx: MasterContext): void {
  app.post(`${API_PREFIX}/trials/:id/kill`, { schema: { params: IdParams, tags: ['trials'] } }, async (req) => {
    const { id } = req.params;
    const t = await getTrialSummary(ctx.db, id);
    if (!t) throw notFound('trial', id);
    const exp = await experimentsDb.getExperimentSummary(ctx.db, t.experimentId);
    requireOwnerOrAdmin(req.user!, exp?.user ?? '', `kill trial ${id}`);
    await ctx.experiments.killTrial(id, req.user!.username);
    ctx.rm.requestPass();
    return getTrialSummary(ctx.db, id);
  });

  app.post(
    `${API_PREFIX}/trials/:id/continue`,
    {
      schema: {
        params: IdParams,
        tags: ['trials'],
        body: Type.Object(
          {
            length: Type.Integer({ minimum: 1, maximum: 1e15 }),
            config: Type.Optional(Type.Union([Type.String({ maxLength: 1048576 }), Type.Record(Type.String(), Type.Unknown())])),
            activate: Type.Optional(Type.Boolean()),
            project: Type.Optional(Str(128)),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const t = await getTrialSummary(ctx.db, id);
      if (!t) throw notFound('trial', id);
      if (!TERMINAL_TRIAL_STATES.includes(t.state)) throw new HoneError('CONFLICT', `trial ${id} is ${t.state}; continue it once it has ended (or kill it first)`);
      if (!t.latestCheckpoint) throw new HoneError('CONFLICT', `trial ${id} has no checkpoint to continue from`);
      const exp = await experimentsDb.getExperimentDetail(ctx.db, t.experimentId);
      if (!exp) throw notFound('experiment', t.experimentId);
      const s = exp.config.searcher;
      const unit = s.max_length?.unit ?? s.time_metric ?? 'batches';
      if (req.body.length <= t.trainedLength) {
        throw invalid(`length: must be more than the ${t.trainedLength} ${unit} trial ${id} has trained (the length is the total), got ${req.body.length}`);
      }
      const base = originalConfig(exp.configYaml, exp.config);
      delete base.source_trial_id;
      delete base.source_checkpoint_uuid;
      const searcher: Record<string, unknown> = {
        name: 'single',
        metric: s.metric,
        smaller_is_better: s.smaller_is_better,
        source_trial_id: id,
        ...(s.max_length ? { max_length: { [s.max_length.unit]: req.body.length } } : { max_time: req.body.length, time_metric: s.time_metric }),
      };
      const config = mergeOverrides(
        { ...base, name: `${exp.name} (trial ${id} continued)`, hyperparameters: constHyperparameters(t.hparams), searcher, ...(exp.project !== 'default' ? { project: exp.project } : {}) },
        overridesOf(req.body.config),
      );
      if (config.reproducibility === undefined) config.reproducibility = { experiment_seed: t.seed };
      const newId = await submitExperiment(ctx, {
        config,
        context: await experimentsDb.getContext(ctx.db, t.experimentId),
        activate: req.body.activate !== false,
        owner: req.user!.username,
        sourceTrialId: id,
        ...(req.body.project !== undefined ? { project: req.body.project } : {}),
      });
      return reply.status(201).send(await experimentsDb.getExperimentSummary(ctx.db, newId));
    },
  );

  app.get(
    `${API_PREFIX}/trials/compare`,
    { schema: { tags: ['trials'], querystring: Type.Object({ ids: Type.String({ minLength: 1, maxLength: 256 }) }) } },
    async (req): Promise<TrialComparison> => {
      const parts = req.query.ids.split(',').map((x) => x.trim()).filter(Boolean);
      const bad = parts.find((x) => !/^[1-9]\d{0,15}$/.test(x));
      if (bad !== undefined) throw invalid(`ids: "${bad}" is not a trial id`);
      const ids = [...new Set(parts.map(Number))];
      if (ids.length < 2 || ids.length > 10) throw invalid(`ids: compare 2 to 10 trials, got ${ids.length}`);
      const trials = await getTrialsWithExperiment(ctx.db, ids);
      const missing = ids.find((x) => !trials.some((t) => t.id === x));
      if (missing !== undefined) throw notFound('trial', missing);
      const flat = trials.map((t) => flattenValues(t.hparams));
      const hparamNames = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
      const differingHparams = hparamNames.filter((n) => new Set(flat.map((f) => (n in f ? JSON.stringify(f[n]) : '\u0000missing'))).size > 1);
      const metricNames = [...new Set(trials.flatMap((t) => Object.keys(t.latestValidation ?? {})))].sort();
      return { trials, hparamNames, differingHparams, metricNames };
    },
  );

  app.post(
    `${API_PREFIX}/trials/:id/reproducibility`,
    {
      config: { auth: 'task' },
      schema: {
        params: IdParams,
        tags: ['harness'],
        body: Type.Object({ harnessVersion: Str(64), tfjsVersion: Str(64), backend: Str(64), nodeVersion: Str(64) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const task = await ctx.taskAuth.trial(req, id);
      await completeReproducibility(ctx.db, id, task.id, req.body);
      return {};
    },
  );
}
