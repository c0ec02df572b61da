// `hone experiment`: submit an experiment (config plus model directory), list, describe, pause, activate, kill,
// change its scheduling fields; fork, archive, edit, label, wait for it, read its logs, download its model directory.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { ExperimentDetail, ExperimentSummary, Page } from '@hone/protocol/api';
import { TERMINAL_EXPERIMENT_STATES } from '@hone/protocol/api';
import { HoneError } from '@hone/protocol/errors';
import { formatClockDuration, formatKiB, formatPercent, formatTableNumber, formatUtcTime } from '@hone/protocol/format';
import type { Client } from '../client';
import { readConfigFile } from '../config-file';
import { modelDirFiles, packContext } from '../context';
import { describeExperiment } from '../describe';
import { entrypointProblem } from '../entrypoint';
import { masterClient, wantsJson } from '../global-options';
import { logFilters, streamExperimentLogs, streamLogs } from '../logs';
import { printJson, table } from '../output';
import { parseId } from '../parse-id';
import { askYesNo, canPrompt } from '../prompt';

/** The files of the model directory to upload; refuses an entrypoint that would not run from them. */
function modelFiles(modelDir: string, entrypoint: string): string[] {
  const files = modelDirFiles(modelDir);
  const problem = entrypointProblem(entrypoint, files, modelDir, (f) => fs.existsSync(path.join(modelDir, f)));
  if (problem) throw new HoneError('INVALID_CONFIG', problem);
  return files;
}

/** POSTs the experiment in chunks; large uploads show progress: a bar on a terminal, otherwise a line every 25%. */
async function upload(c: Client, body: Buffer, quiet: boolean): Promise<ExperimentSummary> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < body.length; i += 256 * 1024) chunks.push(body.subarray(i, i + 256 * 1024));
  const large = !quiet && body.length > 512 * 1024;
  const showBar = large && process.stderr.isTTY;
  const cliProgress = showBar ? (await import('cli-progress')).default : null;
  const bar = cliProgress ? new cliProgress.SingleBar({ format: 'Uploading |{bar}| {percentage}% {value}/{total} KiB', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  bar?.start(Math.ceil(body.length / 1024), 0);
  let lastPct = -1;
  const exp = await c.postStreaming<ExperimentSummary>('/experiments', chunks, (sent, total) => {
    bar?.update(Math.ceil(sent / 1024));
    const pct = Math.floor((sent / total) * 100);
    if (large && !showBar && pct % 25 === 0 && pct !== lastPct) {
      lastPct = pct;
      process.stderr.write(`Uploading: ${pct}%\n`);
    }
  });
  bar?.stop();
  return exp;
}

/** Waits for the first trial and streams its logs, then waits for the experiment's end state. */
async function follow(c: Client, id: number, asJson: boolean): Promise<ExperimentSummary> {
  let trialId: number | null = null;
  while (trialId === null) {
    const d = await c.get<ExperimentDetail>(`/experiments/${id}`);
    if (d.trials.length) trialId = d.trials[0]!.id;
    else if (TERMINAL_EXPERIMENT_STATES.includes(d.state)) break;
    else await sleep(500);
  }
  if (trialId !== null) await streamLogs(c, trialId, { follow: true, json: asJson });
  while (true) {
    const final = await c.get<ExperimentSummary>(`/experiments/${id}`);
    if (TERMINAL_EXPERIMENT_STATES.includes(final.state)) return final;
    await sleep(1000);
  }
}

export function registerExperimentCommands(program: Command): void {
  const experiment = program.command('experiment').alias('e').description('submit and manage experiments');

  experiment
    .command('create <config> [model_dir]')
    .description('submit an experiment: a YAML config and the model directory to upload')
    .option('-f, --follow', "stream the first trial's logs until the experiment ends")
    .option('--paused', 'create the experiment paused')
    .option('--project <name>', "put it in this project (default: the config's project:, else default)")
    .option('--max-context-mib <n>', 'largest model directory to upload, compressed', '96')
    .option('--json', 'print JSON')
    .action(async (configPath: string, modelDir: string | undefined, o: { follow?: boolean; paused?: boolean; project?: string; maxContextMib: string; json?: boolean }) => {
      const c = masterClient(program);
      const asJson = wantsJson(program, o);
      // Everything that can be checked here is, before the master is asked or a byte is packed.
      const { text: yamlText, config } = await readConfigFile(configPath);
      const dir = modelDir !== undefined ? { path: modelDir, files: modelFiles(modelDir, config.entrypoint) } : undefined;
      // Reachable and signed in, before anything is packed: a refused upload would be cut off mid-way.
      await c.get('/auth/me');
      let contextB64: string | undefined;
      if (dir) {
        const { data } = await packContext(dir.path, Number(o.maxContextMib) * 1024 * 1024, dir.files);
        contextB64 = data.toString('base64');
        if (!asJson) process.stderr.write(`Packed ${dir.files.length} files from ${dir.path} (${formatKiB(data.length)} compressed)\n`);
      }
      const body = Buffer.from(
        JSON.stringify({ config: yamlText, ...(contextB64 !== undefined ? { context: contextB64 } : {}), activate: !o.paused, ...(o.project ? { project: o.project } : {}) }),
      );
      const exp = await upload(c, body, asJson);
      if (asJson) printJson(exp);
      else console.log(`Created experiment ${exp.id}`);
      if (!o.follow) return;
      const final = await follow(c, exp.id, asJson);
      if (!asJson) console.log(`Experiment ${exp.id} ended: ${final.state}`);
      if (final.state !== 'COMPLETED') process.exitCode = 1;
    });

  experiment
    .command('list')
    .alias('ls')
    .description('list experiments')
    .option('--state <states>', 'only these states, comma separated (ACTIVE,PAUSED,COMPLETED,...)')
    .option('--name <text>', 'name contains')
    .option('--user <name>', "only this user's experiments")
    .option('--project <name>', 'only experiments of this project')
    .option('--label <label>', 'only experiments with this label')
    .option('--all', 'archived experiments too')
    .option('--archived', 'only archived experiments')
    .option('--limit <n>', 'rows', '100')
    .option('--json', 'print JSON')
    .action(async (o: { state?: string; name?: string; user?: string; project?: string; label?: string; all?: boolean; archived?: boolean; limit: string; json?: boolean }) => {
      const qs = new URLSearchParams({
        limit: o.limit,
        archived: o.all ? 'all' : o.archived ? 'true' : 'false',
        ...(o.state ? { state: o.state } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.user ? { user: o.user } : {}),
        ...(o.project ? { project: o.project } : {}),
        ...(o.label ? { label: o.label } : {}),
      });
      const page = await masterClient(program).get<Page<ExperimentSummary>>(`/experiments?${qs}`);
      if (wantsJson(program, o)) return printJson(page.items);
      console.log(
        table(
          ['ID', 'Name', 'Owner', 'Project', 'State', 'Progress', 'Trials', 'Searcher', 'Best', 'Pool', 'Started', 'Duration'],
          page.items.map((e) => [
            e.id,
            `${e.name}${e.archived ? ' (archived)' : ''}`,
            e.user,
            e.project ?? '',
            e.state,
            formatPercent(e.progress),
            e.numTrials,
            e.searcher,
            formatTableNumber(e.bestMetric),
            e.resourcePool,
            formatUtcTime(e.startTime),
            formatClockDuration(e.startTime, e.endTime),
          ]),
        ),
      );
    });

  experiment
    .command('describe <id>')
    .description('an experiment, its trials and their hyperparameters, metrics and checkpoints')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { json?: boolean }) => {
      const d = await masterClient(program).get<ExperimentDetail>(`/experiments/${parseId(idStr, 'experiment id')}`);
      if (wantsJson(program, o)) return printJson(d);
      console.log(describeExperiment(d));
    });

  const stateChanges = {
    pause: 'pause: running trials checkpoint and stop; nothing new starts',
    activate: 'resume a paused experiment',
    kill: 'kill an experiment: stop all its trials now',
  } as const;
  for (const [action, description] of Object.entries(stateChanges)) {
    experiment
      .command(`${action} <id>`)
      .description(description)
      .option('--json', 'print JSON')
      .action(async (idStr: string, o: { json?: boolean }) => {
        const id = parseId(idStr, 'experiment id');
        const e = await masterClient(program).post<ExperimentSummary>(`/experiments/${id}/${action}`);
        if (wantsJson(program, o)) return printJson(e);
        console.log(`Experiment ${id}: ${e.state}`);
      });
  }

  experiment
    .command('delete <id>')
    .description('delete an ended experiment: its checkpoint files, then its trials, metrics, logs and model directory')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--wait', 'wait until it is gone (exit 1 if the deletion fails)')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { yes?: boolean; wait?: boolean; json?: boolean }) => {
      const id = parseId(idStr, 'experiment id');
      const c = masterClient(program);
      if (!o.yes) {
        if (!canPrompt()) throw new HoneError('INVALID_ARGUMENT', `deleting experiment ${id} cannot be undone; pass --yes to delete it without being asked`);
        const e = await c.get<ExperimentSummary>(`/experiments/${id}`);
        if (!(await askYesNo(`Delete experiment ${id} (${e.name}, ${e.numTrials} trials) with its checkpoints, metrics and logs?`))) {
          console.error('Not deleted.');
          process.exitCode = 1;
          return;
        }
      }
      let e = await c.request<ExperimentSummary>('DELETE', `/experiments/${id}`);
      if (o.wait) {
        while (e.state === 'DELETING') {
          await sleep(500);
          try {
            e = await c.get<ExperimentSummary>(`/experiments/${id}`);
          } catch (err) {
            if (err instanceof HoneError && err.code === 'NOT_FOUND') {
              if (wantsJson(program, o)) return printJson({ id, deleted: true });
              return console.log(`Deleted experiment ${id}`);
            }
            throw err;
          }
        }
        if (e.state === 'DELETE_FAILED') {
          if (wantsJson(program, o)) printJson(e);
          else console.error(`Deleting experiment ${id} failed: ${e.deleteError ?? 'unknown reason'}\nRun \`hone experiment delete ${id}\` again to retry.`);
          process.exitCode = 1;
          return;
        }
      }
      if (wantsJson(program, o)) return printJson(e);
      console.log(`Experiment ${id}: ${e.state} (\`hone experiment describe ${id}\` shows DELETE_FAILED and why, if it fails)`);
    });

  experiment
    .command('set <field> <id> <value>')
    .description(
      'change an experiment: name, description, notes (markdown; @FILE reads a file, - reads stdin), project, ' +
        'or its scheduling: priority (1-99, lower runs first), weight (fair share), max-slots',
    )
    .option('--json', 'print JSON')
    .action(async (field: string, idStr: string, value: string, o: { json?: boolean }) => {
      const id = parseId(idStr, 'experiment id');
      if (['name', 'description', 'notes', 'project'].includes(field)) {
        const text = field === 'notes' ? readTextArg(value) : value;
        const e = await masterClient(program).request<ExperimentSummary>('PATCH', `/experiments/${id}`, { [field]: text });
        if (wantsJson(program, o)) return printJson(e);
        console.log(`Experiment ${id}: ${field} set`);
        return;
      }
      const key = ({ priority: 'priority', weight: 'weight', 'max-slots': 'max_slots', max_slots: 'max_slots' } as Record<string, string>)[field];
      if (!key) throw new HoneError('INVALID_ARGUMENT', `field must be name, description, notes, project, priority, weight or max-slots; got "${field}"`);
      const v = key === 'max_slots' && (value === 'none' || value === 'unlimited') ? null : Number(value);
      if (v !== null && !Number.isFinite(v)) throw new HoneError('INVALID_ARGUMENT', `${field} must be a number, got "${value}"`);
      const e = await masterClient(program).request<ExperimentSummary>('PATCH', `/experiments/${id}`, { [key]: v });
      if (wantsJson(program, o)) return printJson(e);
      console.log(`Experiment ${id}: priority ${e.priority}, weight ${e.weight}, max_slots ${e.maxSlots ?? 'unlimited'}`);
    });

  registerExperimentManagementCommands(program, experiment);
}

/** A text argument: `@FILE` reads the file, `-` reads stdin, anything else is the text itself. */
function readTextArg(value: string): string {
  if (value === '-') return fs.readFileSync(0, 'utf8');
  if (value.startsWith('@')) return fs.readFileSync(value.slice(1), 'utf8');
  return value;
}

/** Reads a YAML file of config overrides (fork, continue) as text; the master merges and checks it. */
export function readOverrides(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new HoneError('INVALID_ARGUMENT', `--config: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Exit status of `experiment wait`, by the experiment's final state. */
export const WAIT_EXIT_CODES: Record<string, number> = { COMPLETED: 0, ERROR: 1, CANCELED: 2 };

function registerExperimentManagementCommands(program: Command, experiment: Command): void {
  experiment
    .command('fork <id>')
    .description("a new experiment from this one's model directory and config, with --config overrides merged on top")
    .option('--config <file>', 'YAML of config fields to change (mappings merge, anything else replaces, null removes)')
    .option('--project <name>', 'put the new experiment in this project')
    .option('--paused', 'create it paused')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { config?: string; project?: string; paused?: boolean; json?: boolean }) => {
      const id = parseId(idStr, 'experiment id');
      const config = readOverrides(o.config);
      const e = await masterClient(program).post<ExperimentSummary>(`/experiments/${id}/fork`, {
        ...(config !== undefined ? { config } : {}),
        ...(o.project ? { project: o.project } : {}),
        activate: !o.paused,
      });
      if (wantsJson(program, o)) return printJson(e);
      console.log(`Created experiment ${e.id} (forked from ${id})`);
    });

  for (const action of ['archive', 'unarchive'] as const) {
    experiment
      .command(`${action} <id>`)
      .description(action === 'archive' ? 'hide an ended experiment from lists (list --all shows it)' : 'show an archived experiment in lists again')
      .option('--json', 'print JSON')
      .action(async (idStr: string, o: { json?: boolean }) => {
        const id = parseId(idStr, 'experiment id');
        const e = await masterClient(program).post<ExperimentSummary>(`/experiments/${id}/${action}`);
        if (wantsJson(program, o)) return printJson(e);
        console.log(`Experiment ${id}: ${e.archived ? 'archived' : 'not archived'}`);
      });
  }

  const label = experiment.command('label').description("add or remove an experiment's labels");
  for (const action of ['add', 'remove'] as const) {
    label
      .command(`${action} <id> <label>`)
      .description(action === 'add' ? 'add a label' : 'remove a label')
      .option('--json', 'print JSON')
      .action(async (idStr: string, l: string, o: { json?: boolean }) => {
        const id = parseId(idStr, 'experiment id');
        const c = masterClient(program);
        const e =
          action === 'add'
            ? await c.post<ExperimentSummary>(`/experiments/${id}/labels`, { label: l })
            : await c.request<ExperimentSummary>('DELETE', `/experiments/${id}/labels/${encodeURIComponent(l)}`);
        if (wantsJson(program, o)) return printJson(e);
        console.log(`Experiment ${id} labels: ${e.labels.join(', ') || '(none)'}`);
      });
  }

  experiment
    .command('wait <id>')
    .description('wait until the experiment ends; exit 0 when it COMPLETED, 1 on ERROR, 2 when CANCELED (for scripts)')
    .option('--interval <s>', 'seconds between checks', '2')
    .option('--json', 'print the final experiment as JSON')
    .action(async (idStr: string, o: { interval: string; json?: boolean }) => {
      const id = parseId(idStr, 'experiment id');
      const interval = Number(o.interval);
      if (!Number.isFinite(interval) || interval <= 0) throw new HoneError('INVALID_ARGUMENT', `--interval must be a positive number of seconds, got "${o.interval}"`);
      const c = masterClient(program);
      let e = await c.get<ExperimentSummary>(`/experiments/${id}`);
      while (!TERMINAL_EXPERIMENT_STATES.includes(e.state)) {
        await sleep(interval * 1000);
        e = await c.get<ExperimentSummary>(`/experiments/${id}`);
      }
      if (wantsJson(program, o)) printJson(e);
      else console.log(`Experiment ${id}: ${e.state}`);
      process.exitCode = WAIT_EXIT_CODES[e.state] ?? 1;
    });

  experiment
    .command('logs <id>')
    .description("print the logs of all of an experiment's trials (or one, --trial) on stdout, filtered on the master")
    .option('--trial <id>', 'only this trial')
    .option('--rank <n>', 'only this rank')
    .option('--level <level>', 'this level and more severe (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)')
    .option('--grep <regex>', 'only lines matching this regular expression (POSIX, as PostgreSQL)')
    .option('--since <when>', 'only lines since an ISO time or a duration back from now (10m, 2h, 1d)')
    .option('--tail <n>', 'only the last n lines')
    .option('-f, --follow', 'keep printing new lines until the experiment ends')
    .option('--json', 'one JSON object per line')
    .action(async (idStr: string, o: { trial?: string; rank?: string; level?: string; grep?: string; since?: string; tail?: string; follow?: boolean; json?: boolean }) => {
      const tail = o.tail !== undefined ? parseId(o.tail, '--tail') : undefined;
      const filters = { ...logFilters(o), ...(o.trial !== undefined ? { trial: parseId(o.trial, '--trial') } : {}) };
      await streamExperimentLogs(masterClient(program), parseId(idStr, 'experiment id'), {
        follow: !!o.follow,
        ...(tail !== undefined ? { tail } : {}),
        json: wantsJson(program, o),
        filters,
      });
    });

  experiment
    .command('download-model-def <id>')
    .description('write the exact model directory the experiment was submitted with to a directory')
    .option('-o, --output <dir>', 'output directory (default: ./experiment-<id>-model-def)')
    .option('--json', 'print JSON (the directory and the sha256 of the archive)')
    .action(async (idStr: string, o: { output?: string; json?: boolean }) => {
      const id = parseId(idStr, 'experiment id');
      const dir = path.resolve(o.output ?? `experiment-${id}-model-def`);
      const c = masterClient(program);
      const body = await c.raw(`/experiments/${id}/model-def`);
      const chunks: Buffer[] = [];
      await c.connected(async () => {
        for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
      });
      const data = Buffer.concat(chunks);
      if (!data.length) throw new HoneError('NOT_FOUND', `experiment ${id} was submitted without a model directory`);
      const tar = await import('tar');
      fs.mkdirSync(dir, { recursive: true });
      await pipeline(Readable.from([data]), tar.x({ cwd: dir, strict: true }));
      const sha256 = createHash('sha256').update(data).digest('hex');
      if (wantsJson(program, o)) return printJson({ experimentId: id, directory: dir, sha256 });
      console.log(`Model directory of experiment ${id} written to ${dir} (sha256:${sha256})`);
    });
}
