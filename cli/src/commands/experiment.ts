// `hone experiment`: submit an experiment (config plus model directory), list, describe, pause, activate, kill,
// and change its scheduling fields.
import fs from 'node:fs';
import path from 'node:path';
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
import { streamLogs } from '../logs';
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
    .option('--max-context-mib <n>', 'largest model directory to upload, compressed', '96')
    .option('--json', 'print JSON')
    .action(async (configPath: string, modelDir: string | undefined, o: { follow?: boolean; paused?: boolean; maxContextMib: string; json?: boolean }) => {
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
      const body = Buffer.from(JSON.stringify({ config: yamlText, ...(contextB64 !== undefined ? { context: contextB64 } : {}), activate: !o.paused }));
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
    .option('--limit <n>', 'rows', '100')
    .option('--json', 'print JSON')
    .action(async (o: { state?: string; name?: string; user?: string; limit: string; json?: boolean }) => {
      const qs = new URLSearchParams({ limit: o.limit, ...(o.state ? { state: o.state } : {}), ...(o.name ? { name: o.name } : {}), ...(o.user ? { user: o.user } : {}) });
      const page = await masterClient(program).get<Page<ExperimentSummary>>(`/experiments?${qs}`);
      if (wantsJson(program, o)) return printJson(page.items);
      console.log(
        table(
          ['ID', 'Name', 'Owner', 'State', 'Progress', 'Trials', 'Searcher', 'Best', 'Pool', 'Started', 'Duration'],
          page.items.map((e) => [e.id, e.name, e.user, e.state, formatPercent(e.progress), e.numTrials, e.searcher, formatTableNumber(e.bestMetric), e.resourcePool, formatUtcTime(e.startTime), formatClockDuration(e.startTime, e.endTime)]),
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
    .description('change priority (1-99, lower runs first), weight (fair share) or max-slots of an experiment')
    .option('--json', 'print JSON')
    .action(async (field: string, idStr: string, value: string, o: { json?: boolean }) => {
      const id = parseId(idStr, 'experiment id');
      const key = ({ priority: 'priority', weight: 'weight', 'max-slots': 'max_slots', max_slots: 'max_slots' } as Record<string, string>)[field];
      if (!key) throw new HoneError('INVALID_ARGUMENT', `field must be priority, weight or max-slots; got "${field}"`);
      const v = key === 'max_slots' && (value === 'none' || value === 'unlimited') ? null : Number(value);
      if (v !== null && !Number.isFinite(v)) throw new HoneError('INVALID_ARGUMENT', `${field} must be a number, got "${value}"`);
      const e = await masterClient(program).request<ExperimentSummary>('PATCH', `/experiments/${id}`, { [key]: v });
      if (wantsJson(program, o)) return printJson(e);
      console.log(`Experiment ${id}: priority ${e.priority}, weight ${e.weight}, max_slots ${e.maxSlots ?? 'unlimited'}`);
    });
}
