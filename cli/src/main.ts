// The `hone` command line. Tables by default, --json everywhere; -m/--master or HONE_MASTER picks the master.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import Table from 'cli-table3';
import cliProgress from 'cli-progress';
import * as tar from 'tar';
import { parse as parseYaml } from 'yaml';
import type {
  AgentInfo,
  CheckpointInfo,
  ExperimentDetail,
  ExperimentSummary,
  JobInfo,
  Page,
  ResourcePoolInfo,
  TaskLog,
  TrialSummary,
} from '@hone/protocol';
import { TERMINAL_EXPERIMENT_STATES, TERMINAL_TRIAL_STATES, ConfigValidationError, parseExperimentConfig } from '@hone/protocol';
import { ApiError, Client } from './client';
import { packContext } from './context';
import { registerSearcherCommands } from './commands/searcher';

const program = new Command();
program
  .name('hone')
  .description('Hone: train deep learning models on a cluster — experiments, trials, agents')
  .option('-m, --master <url>', 'master URL (env HONE_MASTER)', process.env.HONE_MASTER ?? 'http://127.0.0.1:8080')
  .option('--json', 'print JSON instead of tables')
  .showHelpAfterError();

const client = (): Client => new Client(program.opts().master as string, process.env.HONE_TOKEN);
const json = (cmdOpts: { json?: boolean }): boolean => Boolean(cmdOpts.json ?? program.opts().json);
const out = (v: unknown): void => {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
};

function table(head: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const t = new Table({ head, style: { head: ['cyan'], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))));
  return t.toString();
}

const fmtNum = (v: number | null | undefined): string => (v === null || v === undefined ? '' : Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : v.toPrecision(5));
const fmtTime = (s: string | null): string => (s ? new Date(s).toISOString().replace('T', ' ').slice(0, 19) : '');
function fmtDuration(start: string, end: string | null): string {
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
const fmtHp = (h: Record<string, unknown>): string =>
  Object.entries(h)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? fmtNum(v) : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');

function parseId(s: string, what = 'id'): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new ApiError(400, 'INVALID_ARGUMENT', `${what} must be a positive integer, got "${s}"`);
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function printLog(l: TaskLog): void {
  const stream = l.stream === 'stderr' ? process.stderr : process.stdout;
  stream.write(`[${l.ts.slice(11, 23)}] [rank=${l.rank ?? 0}] ${l.line}\n`);
}

function emit(l: TaskLog, asJson?: boolean): void {
  if (asJson) process.stdout.write(JSON.stringify(l) + '\n');
  else printLog(l);
}

/** Prints a trial's logs; with follow, keeps printing until the trial ends. */
async function streamLogs(c: Client, trialId: number, opts: { follow: boolean; tail?: number; json?: boolean }): Promise<void> {
  let after = 0;
  const first = await c.get<TaskLog[]>(`/trials/${trialId}/logs?${opts.tail !== undefined ? `tail=${opts.tail}` : 'after_id=0'}`);
  for (const l of first) emit(l, opts.json);
  if (first.length) after = first[first.length - 1]!.id;
  if (!opts.follow) return;
  while (true) {
    const res = await c.raw(`/trials/${trialId}/logs?after_id=${after}&wait_s=10`);
    const logs = (await res.json()) as TaskLog[];
    for (const l of logs) emit(l, opts.json);
    if (logs.length) after = logs[logs.length - 1]!.id;
    const state = res.headers.get('x-trial-state');
    if (!logs.length && state && TERMINAL_TRIAL_STATES.includes(state as never)) return;
  }
}

// ---------------- experiment ----------------
const experiment = program.command('experiment').alias('e').description('submit and manage experiments');

experiment
  .command('create <config> [model_dir]')
  .description('submit an experiment: a YAML config and the model directory to upload')
  .option('-f, --follow', "stream the first trial's logs until the experiment ends")
  .option('--paused', 'create the experiment paused')
  .option('--max-context-mib <n>', 'largest model directory to upload, compressed', '96')
  .option('--json', 'print JSON')
  .action(async (configPath: string, modelDir: string | undefined, o: { follow?: boolean; paused?: boolean; maxContextMib: string; json?: boolean }) => {
    const c = client();
    if (!fs.existsSync(configPath)) throw new ApiError(400, 'INVALID_ARGUMENT', `config file ${configPath} does not exist`);
    const yamlText = fs.readFileSync(configPath, 'utf8');
    try {
      parseExperimentConfig(yamlText);
    } catch (e) {
      if (e instanceof ConfigValidationError) throw new ApiError(400, 'INVALID_CONFIG', `invalid experiment config ${configPath}: ${e.message}`);
      throw e;
    }
    let contextB64: string | undefined;
    if (modelDir) {
      const { data, files } = await packContext(path.resolve(modelDir), Number(o.maxContextMib) * 1024 * 1024);
      contextB64 = data.toString('base64');
      if (!json(o)) process.stderr.write(`Packed ${files} files from ${modelDir} (${(data.length / 1024).toFixed(1)} KiB compressed)\n`);
    }
    const body = Buffer.from(JSON.stringify({ config: yamlText, ...(contextB64 !== undefined ? { context: contextB64 } : {}), activate: !o.paused }));
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += 256 * 1024) chunks.push(body.subarray(i, i + 256 * 1024));
    const showBar = !json(o) && process.stderr.isTTY && body.length > 512 * 1024;
    const bar = showBar ? new cliProgress.SingleBar({ format: 'Uploading |{bar}| {percentage}% {value}/{total} KiB', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    bar?.start(Math.ceil(body.length / 1024), 0);
    let lastPct = -1;
    const exp = await c.postStreaming<ExperimentSummary>('/experiments', chunks, (sent, total) => {
      bar?.update(Math.ceil(sent / 1024));
      const pct = Math.floor((sent / total) * 100);
      if (!showBar && !json(o) && body.length > 512 * 1024 && pct % 25 === 0 && pct !== lastPct) {
        lastPct = pct;
        process.stderr.write(`Uploading: ${pct}%\n`);
      }
    });
    bar?.stop();
    if (json(o)) out(exp);
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
    if (trialId !== null) await streamLogs(c, trialId, { follow: true, json: json(o) });
    let final: ExperimentSummary;
    while (true) {
      final = await c.get<ExperimentSummary>(`/experiments/${exp.id}`);
      if (TERMINAL_EXPERIMENT_STATES.includes(final.state)) break;
      await sleep(1000);
    }
    if (!json(o)) console.log(`Experiment ${exp.id} ended: ${final.state}`);
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
    const page = await client().get<Page<ExperimentSummary>>(`/experiments?${qs}`);
    if (json(o)) return out(page.items);
    console.log(
      table(
        ['ID', 'Name', 'State', 'Progress', 'Trials', 'Searcher', 'Best', 'Pool', 'Started', 'Duration'],
        page.items.map((e) => [e.id, e.name, e.state, `${Math.round(e.progress * 100)}%`, e.numTrials, e.searcher, fmtNum(e.bestMetric), e.resourcePool, fmtTime(e.startTime), fmtDuration(e.startTime, e.endTime)]),
      ),
    );
  });

experiment
  .command('describe <id>')
  .description('an experiment, its trials and their hyperparameters, metrics and checkpoints')
  .option('--json', 'print JSON')
  .action(async (idStr: string, o: { json?: boolean }) => {
    const d = await client().get<ExperimentDetail>(`/experiments/${parseId(idStr, 'experiment id')}`);
    if (json(o)) return out(d);
    console.log(`Experiment ${d.id}: ${d.name}`);
    console.log(`  State:     ${d.state}    Progress: ${Math.round(d.progress * 100)}%`);
    console.log(`  Searcher:  ${d.searcher} (metric ${d.metric}, ${d.smallerIsBetter ? 'smaller' : 'larger'} is better)    Best: ${fmtNum(d.bestMetric)}`);
    console.log(`  Resources: pool ${d.resourcePool}, ${d.config.resources.slots_per_trial} slot(s) per trial, priority ${d.priority}, weight ${d.weight}${d.maxSlots ? `, max_slots ${d.maxSlots}` : ''}`);
    console.log(`  Started:   ${fmtTime(d.startTime)}    Duration: ${fmtDuration(d.startTime, d.endTime)}`);
    if (d.rungs) {
      console.log('\nRungs:');
      console.log(
        table(
          ['Bracket', 'Rung', 'Length', 'Trials reached', 'Promoted', 'Best'],
          d.rungs.map((r, i) => [r.bracket ?? 0, r.rung ?? i, r.length, r.trials, r.promoted ?? '', fmtNum(r.best)]),
        ),
      );
    }
    console.log('\nTrials:');
    console.log(
      table(
        ['Trial', 'State', 'Hyperparameters', 'Length', 'Best validation', 'Restarts', 'Latest checkpoint'],
        d.trials.map((t) => [t.id, t.state, fmtHp(t.hparams), `${t.completedLength}/${t.targetLength}`, fmtNum(t.bestValidation), t.restarts, t.latestCheckpoint ?? '']),
      ),
    );
  });

for (const action of ['pause', 'activate', 'kill'] as const) {
  experiment
    .command(`${action} <id>`)
    .description(
      action === 'pause'
        ? 'pause: running trials checkpoint and stop; nothing new starts'
        : action === 'activate'
          ? 'resume a paused experiment'
          : 'kill an experiment: stop all its trials now',
    )
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { json?: boolean }) => {
      const id = parseId(idStr, 'experiment id');
      const e = await client().post<ExperimentSummary>(`/experiments/${id}/${action}`);
      if (json(o)) return out(e);
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
    if (!key) throw new ApiError(400, 'INVALID_ARGUMENT', `field must be priority, weight or max-slots; got "${field}"`);
    const v = key === 'max_slots' && (value === 'none' || value === 'unlimited') ? null : Number(value);
    if (v !== null && !Number.isFinite(v)) throw new ApiError(400, 'INVALID_ARGUMENT', `${field} must be a number, got "${value}"`);
    const e = await client().request<ExperimentSummary>('PATCH', `/experiments/${id}`, { [key]: v });
    if (json(o)) return out(e);
    console.log(`Experiment ${id}: priority ${e.priority}, weight ${e.weight}, max_slots ${e.maxSlots ?? 'unlimited'}`);
  });

// ---------------- trial ----------------
const trial = program.command('trial').alias('t').description('inspect trials');
trial
  .command('describe <id>')
  .description('a trial: hyperparameters, metrics, checkpoints')
  .option('--json', 'print JSON')
  .action(async (idStr: string, o: { json?: boolean }) => {
    const t = await client().get<TrialSummary & { checkpoints: CheckpointInfo[] }>(`/trials/${parseId(idStr, 'trial id')}`);
    if (json(o)) return out(t);
    console.log(`Trial ${t.id} (experiment ${t.experimentId}): ${t.state}`);
    console.log(`  Hyperparameters: ${fmtHp(t.hparams)}`);
    console.log(`  Length: ${t.completedLength}/${t.targetLength}    Restarts: ${t.restarts}    Best validation: ${fmtNum(t.bestValidation)}`);
    if (t.latestValidation) console.log(`  Latest validation: ${fmtHp(t.latestValidation)}`);
    console.log('\nCheckpoints:');
    console.log(table(['UUID', 'Steps', 'Files', 'Size', 'Validation'], t.checkpoints.map((c) => [c.uuid, c.stepsCompleted, Object.keys(c.resources).length, `${(Object.values(c.resources).reduce((a, b) => a + b, 0) / 1024).toFixed(1)} KiB`, fmtNum(c.validationMetric)])));
  });
trial
  .command('logs <id>')
  .description("print a trial's logs")
  .option('-f, --follow', 'keep printing new lines until the trial ends')
  .option('--tail <n>', 'only the last n lines')
  .option('--json', 'one JSON object per line')
  .action(async (idStr: string, o: { follow?: boolean; tail?: string; json?: boolean }) => {
    const tail = o.tail !== undefined ? parseId(o.tail, '--tail') : undefined;
    await streamLogs(client(), parseId(idStr, 'trial id'), { follow: !!o.follow, ...(tail !== undefined ? { tail } : {}), json: json(o) });
  });

// ---------------- cluster ----------------
const agentCmd = program.command('agent').alias('a').description('agents in the cluster');
agentCmd
  .command('list')
  .alias('ls')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const agents = await client().get<AgentInfo[]>('/agents');
    if (json(o)) return out(agents);
    console.log(table(['Agent', 'Pool', 'State', 'Slots', 'Used', 'Hostname', 'Last seen'], agents.map((a) => [a.id, a.resourcePool, a.state, a.slots.length, a.slots.filter((s) => s.allocationId).length, a.hostname, fmtTime(a.lastSeen)])));
  });
const slotCmd = program.command('slot').alias('s').description('slots (GPUs or CPU slots) of the agents');
slotCmd
  .command('list')
  .alias('ls')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const agents = await client().get<AgentInfo[]>('/agents');
    const slots = agents.flatMap((a) => a.slots.map((s) => ({ ...s, pool: a.resourcePool, agentState: a.state })));
    if (json(o)) return out(slots);
    console.log(table(['Agent', 'Slot', 'Type', 'Device', 'Pool', 'State', 'Trial', 'Experiment'], slots.map((s) => [s.agentId, s.id, s.type, s.brand, s.pool, s.allocationId ? 'BUSY' : s.agentState === 'CONNECTED' ? 'FREE' : 'OFFLINE', s.trialId, s.experimentId])));
  });
program
  .command('resource-pool')
  .alias('rp')
  .description('resource pools')
  .command('list')
  .alias('ls')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const pools = await client().get<ResourcePoolInfo[]>('/resource-pools');
    if (json(o)) return out(pools);
    console.log(table(['Pool', 'Agents', 'Slots', 'Used', 'Pending jobs', 'Pending slots'], pools.map((p) => [p.name, p.agents, p.slots, p.slotsUsed, p.pendingAllocations, p.pendingSlots])));
  });
program
  .command('job')
  .alias('j')
  .description('the scheduling queue')
  .command('list')
  .alias('ls')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const jobs = await client().get<JobInfo[]>('/jobs');
    if (json(o)) return out(jobs);
    console.log(table(['#', 'Experiment', 'Trial', 'State', 'Slots', 'Pool', 'Priority', 'Weight', 'Waiting because'], jobs.map((j) => [j.position, j.experimentId, j.trialId, j.state, j.slots, j.resourcePool, j.priority, j.weight, j.reason ?? ''])));
  });

// ---------------- checkpoint ----------------
const cp = program.command('checkpoint').alias('c').description('checkpoints');
cp.command('describe <uuid>')
  .option('--json', 'print JSON')
  .action(async (uuid: string, o: { json?: boolean }) => {
    const c = await client().get<CheckpointInfo>(`/checkpoints/${uuid}`);
    if (json(o)) return out(c);
    console.log(table(['UUID', 'Trial', 'Steps', 'State', 'Files'], [[c.uuid, c.trialId, c.stepsCompleted, c.state, Object.keys(c.resources).join(', ')]]));
  });
cp.command('download <uuid>')
  .description("write a checkpoint's files to a directory")
  .option('-o, --output <dir>', 'output directory (default: ./checkpoints/<uuid>)')
  .action(async (uuid: string, o: { output?: string }) => {
    const dir = path.resolve(o.output ?? path.join('checkpoints', uuid));
    const res = await client().raw(`/checkpoints/${uuid}/download`);
    fs.mkdirSync(dir, { recursive: true });
    await pipeline(Readable.fromWeb(res.body as any), tar.x({ cwd: dir, strict: true }));
    console.log(`Checkpoint ${uuid} written to ${dir}`);
  });

// ---------------- config ----------------
program
  .command('config')
  .description('experiment config helpers')
  .command('validate <config>')
  .description('check an experiment config and print it with defaults filled in')
  .action(async (configPath: string) => {
    try {
      out(parseExperimentConfig(parseYaml(fs.readFileSync(configPath, 'utf8'))));
    } catch (e) {
      if (e instanceof ConfigValidationError) throw new ApiError(400, 'INVALID_CONFIG', `invalid experiment config ${configPath}: ${e.message}`);
      throw e;
    }
  });

program
  .command('master')
  .description('the master')
  .command('info')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const info = await client().get<{ version: string; database: string }>('/master');
    if (json(o)) return out(info);
    console.log(`Master ${client().base}: version ${info.version}, database ${info.database}`);
  });

registerSearcherCommands(program);
program.addOption(new Option('--token <token>', 'auth token (env HONE_TOKEN)').hideHelp());

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ApiError) {
    console.error(`Error: ${e.message}`);
    process.exit(e.status === 0 ? 3 : 1);
  }
  console.error(`Error: ${(e as Error).message}`);
  process.exit(1);
});
