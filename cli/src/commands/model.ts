// `hone model`: the model registry. A model is a name with numbered versions; each version is a registered
// checkpoint with its source trial, hyperparameters and metrics. Registered checkpoints are never garbage-collected.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { ModelDetail, ModelInfo, ModelVersion, Page } from '@hone/protocol/api';
import { HoneError } from '@hone/protocol/errors';
import { formatHParams, formatUtcTime } from '@hone/protocol/format';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';

/** `NAME` or `NAME:VERSION`. */
export function parseModelRef(ref: string): { name: string; version: number | null } {
  const i = ref.lastIndexOf(':');
  if (i < 0) return { name: ref, version: null };
  const v = Number(ref.slice(i + 1));
  if (!Number.isInteger(v) || v < 1) throw new HoneError('INVALID_ARGUMENT', `version must be a positive integer (NAME:VERSION), got "${ref.slice(i + 1)}"`);
  return { name: ref.slice(0, i), version: v };
}

const enc = encodeURIComponent;

export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('the model registry: named, versioned checkpoints');
  model
    .command('create <name>')
    .description('create a model (versions are added with model register)')
    .option('--description <text>', 'what the model is')
    .option('--label <label...>', 'labels')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { description?: string; label?: string[]; json?: boolean }) => {
      const m = await masterClient(program).post<ModelInfo>('/models', { name, ...(o.description !== undefined ? { description: o.description } : {}), ...(o.label ? { labels: o.label } : {}) });
      if (wantsJson(program, o)) return printJson(m);
      console.log(`Created model ${m.name}`);
    });
  model
    .command('register <name> <checkpoint-uuid>')
    .description('register a checkpoint as the next version of a model (it is then exempt from checkpoint GC)')
    .option('--notes <text>', 'notes for this version')
    .option('--json', 'print JSON')
    .action(async (name: string, uuid: string, o: { notes?: string; json?: boolean }) => {
      const v = await masterClient(program).post<ModelVersion>(`/models/${enc(name)}/versions`, { checkpointUuid: uuid, ...(o.notes !== undefined ? { notes: o.notes } : {}) });
      if (wantsJson(program, o)) return printJson(v);
      console.log(`Registered checkpoint ${uuid} as ${name} version ${v.version}`);
    });
  model
    .command('list')
    .alias('ls')
    .description('list models')
    .option('--name <text>', 'name contains')
    .option('--json', 'print JSON')
    .action(async (o: { name?: string; json?: boolean }) => {
      const page = await masterClient(program).get<Page<ModelInfo>>(`/models?limit=1000${o.name ? `&name=${enc(o.name)}` : ''}`);
      if (wantsJson(program, o)) return printJson(page.items);
      console.log(
        table(
          ['Name', 'Owner', 'Versions', 'Latest', 'Updated', 'Description'],
          page.items.map((m) => [m.name, m.owner, m.numVersions, m.latestVersion ?? '', formatUtcTime(m.updatedAt), m.description]),
        ),
      );
    });
  model
    .command('describe <name>')
    .description('a model and its versions: who registered each, when, and its source trial, hyperparameters and metrics')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const m = await masterClient(program).get<ModelDetail>(`/models/${enc(name)}`);
      if (wantsJson(program, o)) return printJson(m);
      console.log(
        [
          `Model ${m.name}`,
          `  Owner:   ${m.owner}    Created: ${formatUtcTime(m.createdAt)}`,
          ...(m.description ? [`  Description: ${m.description}`] : []),
          ...(m.labels.length ? [`  Labels:  ${m.labels.join(', ')}`] : []),
          '',
          table(
            ['Version', 'Checkpoint', 'Registered by', 'When', 'Trial', 'Steps', 'Hyperparameters', 'Validation metrics'],
            m.versions.map((v) => [
              v.version,
              `${v.checkpointUuid}${v.checkpointState === 'DELETED' ? ' (deleted)' : ''}`,
              v.registeredBy,
              formatUtcTime(v.registeredAt),
              `${v.trialId} (exp ${v.experimentId})`,
              v.stepsCompleted,
              formatHParams(v.hparams),
              v.validationMetrics ? formatHParams(v.validationMetrics) : '',
            ]),
          ),
        ].join('\n'),
      );
    });
  model
    .command('download <ref>')
    .description("write a model version's checkpoint files to a directory (NAME for the latest version, NAME:VERSION)")
    .option('-o, --output <dir>', 'output directory (default: ./models/<name>-v<version>)')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { output?: string; json?: boolean }) => {
      const { name, version } = parseModelRef(ref);
      const c = masterClient(program);
      let v: ModelVersion;
      if (version !== null) v = await c.get<ModelVersion>(`/models/${enc(name)}/versions/${version}`);
      else {
        const m = await c.get<ModelDetail>(`/models/${enc(name)}`);
        if (!m.versions.length) throw new HoneError('NOT_FOUND', `model ${name} has no versions yet (add one with: hone model register ${name} <checkpoint-uuid>)`);
        v = m.versions[0]!;
      }
      const dir = path.resolve(o.output ?? path.join('models', `${name}-v${v.version}`));
      const body = await c.raw(`/checkpoints/${v.checkpointUuid}/download`);
      const tar = await import('tar');
      fs.mkdirSync(dir, { recursive: true });
      await c.connected(() => pipeline(body, tar.x({ cwd: dir, strict: true })));
      if (wantsJson(program, o)) return printJson({ ...v, directory: dir });
      console.log(`Model ${name} version ${v.version} (checkpoint ${v.checkpointUuid}) written to ${dir}`);
    });
}
