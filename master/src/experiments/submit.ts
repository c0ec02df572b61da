// Submitting an experiment: the checks every new experiment passes (config, model directory, grid size, fit,
// project, warm-start source), shared by POST /experiments, fork and continue.
import { stringify as toYaml } from 'yaml';
import type { ExperimentConfig } from '@hone/protocol';
import { ConfigValidationError, parseExperimentConfig } from '@hone/protocol';
import { gridRefusal } from '@hone/protocol/grid';
import type { MasterContext } from '../context';
import { getCheckpoint } from '../db/checkpoints';
import { projectId as findProjectId } from '../db/projects';
import { getTrialLaunchInfo } from '../db/trials';
import { HoneError, invalid } from '../errors';
import { archiveFiles, archiveRefusal } from './modelArchive';

export interface SubmitInput {
  /** YAML text or a decoded mapping. */
  config: string | Record<string, unknown>;
  context: Buffer | null;
  activate: boolean;
  owner: string;
  /** Overrides the config's `project`. */
  project?: string;
  forkedFrom?: number;
  /** Recorded as the experiment's source trial (continue); a config's source_trial_id is recorded too. */
  sourceTrialId?: number;
}

export function parseConfigOrThrow(raw: unknown): ExperimentConfig {
  try {
    return parseExperimentConfig(raw);
  } catch (e) {
    if (e instanceof ConfigValidationError) throw new HoneError('INVALID_CONFIG', `invalid experiment config: ${e.message}`, { errors: e.errors });
    throw e;
  }
}

/** Validates and creates the experiment; returns its id. */
export async function submitExperiment(ctx: MasterContext, input: SubmitInput): Promise<number> {
  const config = parseConfigOrThrow(input.config);
  const { context } = input;
  if (context) {
    if (context.length > ctx.opts.maxContextBytes) {
      throw new HoneError(
        'CONTEXT_TOO_LARGE',
        `context: the model directory is ${(context.length / 1048576).toFixed(1)} MiB compressed, over the limit of ${(ctx.opts.maxContextBytes / 1048576).toFixed(0)} MiB; add large files to .honeignore`,
      );
    }
    if (context.length < 2 || context[0] !== 0x1f || context[1] !== 0x8b) throw invalid('context: must be a gzipped tar archive');
    let files: string[];
    try {
      files = await archiveFiles(context, { maxBytes: ctx.opts.maxContextExpandedBytes, maxEntries: ctx.opts.maxContextEntries });
    } catch (e) {
      if (e instanceof HoneError) throw e;
      throw invalid(`context: not a readable gzipped tar archive (${(e as Error).message})`);
    }
    const refusal = archiveRefusal(files, config.entrypoint);
    if (refusal) throw new HoneError('INVALID_CONFIG', refusal);
  }
  if (config.searcher.name === 'grid') {
    const tooBig = gridRefusal(config.hyperparameters, ctx.opts.maxGridPoints);
    if (tooBig) throw new HoneError('INVALID_CONFIG', `hyperparameters: ${tooBig}`);
  }
  // A gang that can never fit in its pool is refused now rather than left pending forever.
  const fit = await ctx.rm.canEverFit(config.resources.resource_pool, config.resources.slots_per_trial);
  if (!fit.fits) {
    throw new HoneError(
      'UNSATISFIABLE',
      `resources.slots_per_trial: ${fit.reason}. Add agents with more slots to the pool (on the local cluster: npm start -- --slots ${config.resources.slots_per_trial}), or lower resources.slots_per_trial`,
    );
  }
  const projectName = input.project ?? config.project ?? 'default';
  const field = input.project !== undefined ? 'project' : 'config project';
  const projectId = await findProjectId(ctx.db, projectName);
  if (projectId === null) throw new HoneError('NOT_FOUND', `${field}: no project named "${projectName}" (create it with: hone project create ${projectName})`);
  const warm = await warmStartSource(ctx, config);
  const configYaml = typeof input.config === 'string' ? input.config : toYaml(input.config);
  const id = await ctx.experiments.createExperiment({
    config,
    configYaml,
    context,
    activate: input.activate,
    owner: input.owner,
    projectId,
    forkedFrom: input.forkedFrom ?? null,
    sourceTrialId: input.sourceTrialId ?? warm?.trialId ?? null,
    sourceCheckpointUuid: warm?.uuid ?? null,
  });
  ctx.rm.requestPass();
  return id;
}

/** The checkpoint the trials start from: searcher.source_checkpoint_uuid, or searcher.source_trial_id's latest. */
async function warmStartSource(ctx: MasterContext, config: ExperimentConfig): Promise<{ uuid: string; trialId: number } | null> {
  const { source_checkpoint_uuid: uuid, source_trial_id: trialId } = config.searcher;
  if (uuid) {
    const c = await getCheckpoint(ctx.db, uuid);
    if (!c) throw new HoneError('NOT_FOUND', `searcher.source_checkpoint_uuid: checkpoint ${uuid} not found`);
    if (c.state !== 'COMPLETED') throw new HoneError('CONFLICT', `searcher.source_checkpoint_uuid: checkpoint ${uuid} was garbage-collected`);
    return { uuid: c.uuid, trialId: c.trialId };
  }
  if (trialId) {
    const t = await getTrialLaunchInfo(ctx.db, trialId);
    if (!t) throw new HoneError('NOT_FOUND', `searcher.source_trial_id: trial ${trialId} not found`);
    if (!t.latestCheckpoint) throw new HoneError('CONFLICT', `searcher.source_trial_id: trial ${trialId} has no checkpoint to start from`);
    const c = await getCheckpoint(ctx.db, t.latestCheckpoint);
    if (c?.state !== 'COMPLETED') throw new HoneError('CONFLICT', `searcher.source_trial_id: the latest checkpoint of trial ${trialId} was garbage-collected`);
    return { uuid: t.latestCheckpoint, trialId };
  }
  return null;
}
