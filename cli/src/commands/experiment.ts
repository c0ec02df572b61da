// `hone experiment`: submit an experiment (config plus model directory), list, describe, pause, activate, kill,
// and change its scheduling fields.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { ExperimentDetail, ExperimentSummary, Page } from '@hone/protocol';
import { TERMINAL_EXPERIMENT_STATES } from '@hone/protocol';
import { HoneError } from '@hone/protocol/errors';
import { formatClockDuration, formatHParams, formatKiB, formatPercent, formatTableNumber, formatUtcTime } from '@hone/protocol/format';
import { packContext } from '../context';
import { parseConfigFile } from '../config-file';
import { masterClient, wantsJson } from '../global-options';
import { streamLogs } from '../logs';
import { printJson, table } from '../output';
import { parseId } from '../parse-id';

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
      if (!fs.existsSync(configPath)) throw new HoneError('INVALID_ARGUMENT', `config file ${configPath} does not exist`);
      const yamlText = fs.readFileSync(configPath, 'utf8');
      parseConfigFile(configPath, yamlText);
      let contextB64: string | undefined;
      if (modelDir) {
        const { data, files } = await packContext(path.resolve(modelDir), Number(o.maxContextMib) * 1024 * 1024);
        contextB64 = data.toString('base64');
        if (!asJson) process.stderr.write(`Packed ${files} files from ${modelDir} (${formatKiB(data.length)} compressed)\n`);
      }
      const body = Buffer.from(JSON.stringify({ config: yamlText, ...(contextB64 !== undefined ? { context: contextB64 } : {}), activate: !o.paused }));
      const chunks: Buffer[] = [];
      for (let i = 0; i < body.length; i += 256 * 1024) chunks.push(body.subarray(i, i + 256 * 1024));
      // Large uploads show progress: a bar on a terminal, otherwise a line every 25%.
      const showBar = !asJson && process.stderr.isTTY && body.length > 512 * 1024;
      const bar = showBar ? new cliProgress.SingleBar({ format: 'Uploading |{bar}| {percentage}% {value}/{total} KiB', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
      bar?.start(Math.ceil(body.length / 1024), 0);
      let lastPct = -1;
      const exp = await c.postStreaming<ExperimentSummary>('/experiments', chunks, (sent, total) => {
        bar?.update(Math.ceil(sent / 1024));
        const pct = Math.floor((sent / total) * 100);
        if (!showBar && !asJson && body.length > 512 * 1024 && pct % 25 === 0 && pct !== lastPct) {
          lastPct = pct;
          process.stderr.write(`Uploading: ${pct}%\n`);
        }
      });
      bar?.stop();
      if (asJson) printJson(exp);
      else console.log(`Created experiment ${exp.id}`);
      if (!o.follow) return;
      // Wait for the first trial, then stream its logs; finally report the experiment's end state.
      let trialId: number | null = null;
      while (trialId === null) {
        const d = await c.get<ExperimentDetail>(`/experiments/${exp.id}`);
        if (d.trials.length) trialId = d.trials[0]!.id;
        else if (TERMINAL_EXPERIMENT_STATES.includes(d.state)) break;
        else await sleep(500);
      }
      if (trialId !== null) await streamLogs(c, trialId, { follow: true, json: asJson });
      let final: ExperimentSummary;
      while (true) {
        final = await c.get<ExperimentSummary>(`/experiments/${exp.id}`);
        if (TERMINAL_EXPERIMENT_STATES.includes(final.state)) break;
        await sleep(1000);
      }
      if (!asJson) console.log(`Experiment ${exp.id} ended: ${final.state}`);
      if (final.state !== 'COMPLETED') process.exitCode = 1;
    });

  experiment
    .command('list')
    .alias('ls')
    .description('list experiments')
    .option('--state <states>', 'only these states, comma separated (ACTIVE,PAUSED,COMPLETED,...)')
    .option('--name <text>', 'name contains')
    .option('--limit <n>', 'rows', '100')
    .option('--json', 'print JSON')
    .action(async (o: { state?: string; name?: string; limit: string; json?: boolean }) => {
      const qs = new URLSearchParams({ limit: o.limit, ...(o.state ? { state: o.state } : {}), ...(o.name ? { name: o.name } : {}) });
      const page = await masterClient(program).get<Page<ExperimentSummary>>(`/experiments?${qs}`);
      if (wantsJson(program, o)) return printJson(page.items);
      console.log(
        table(
          ['ID', 'Name', 'State', 'Progress', 'Trials', 'Searcher', 'Best', 'Pool', 'Started', 'Duration'],
          page.items.map((e) => [e.id, e.name, e.state, formatPercent(e.progress), e.numTrials, e.searcher, formatTableNumber(e.bestMetric), e.resourcePool, formatUtcTime(e.startTime), formatClockDuration(e.startTime, e.endTime)]),
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
      console.log(`Experiment ${d.id}: ${d.name}`);
      console.log(`  State:     ${d.state}    Progress: ${formatPercent(d.progress)}`);
      console.log(`  Searcher:  ${d.searcher} (metric ${d.metric}, ${d.smallerIsBetter ? 'smaller' : 'larger'} is better)    Best: ${formatTableNumber(d.bestMetric)}`);
      console.log(`  Resources: pool ${d.resourcePool}, ${d.config.resources.slots_per_trial} slot(s) per trial, priority ${d.priority}, weight ${d.weight}${d.maxSlots ? `, max_slots ${d.maxSlots}` : ''}`);
      console.log(`  Started:   ${formatUtcTime(d.startTime)}    Duration: ${formatClockDuration(d.startTime, d.endTime)}`);
      if (d.rungs) {
        console.log('\nRungs:');
        console.log(
          table(
            ['Bracket', 'Rung', 'Length', 'Trials reached', 'Promoted', 'Best'],
            d.rungs.map((r, i) => [r.bracket ?? 0, r.rung ?? i, r.length, r.trials, r.promoted ?? '', formatTableNumber(r.best)]),
          ),
        );
      }
      console.log('\nTrials:');
      console.log(
        table(
          ['Trial', 'State', 'Hyperparameters', 'Length', 'Best validation', 'Restarts', 'Latest checkpoint'],
          d.trials.map((t) => [t.id, t.state, formatHParams(t.hparams), `${t.completedLength}/${t.targetLength}`, formatTableNumber(t.bestValidation), t.restarts, t.latestCheckpoint ?? '']),
        ),
      );
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
