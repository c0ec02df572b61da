// `hone experiment forecast <config.yaml>`: how long the experiment will take and what it will cost on a pool.
// The master runs the experiment's searcher, the scheduler and the pool's provisioner on a simulated clock (the
// same code that runs the real thing) and answers with the figures and a plot-ready timeline (--json).
import type { Command } from 'commander';
import { HoneError } from '@hone/protocol/errors';
import type { Forecast } from '@hone/protocol';
import { formatPercent, formatSeconds } from '@hone/protocol/format';
import { readConfigFile } from '../config-file';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';



const positive = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new HoneError('INVALID_ARGUMENT', `${flag}: must be a positive number, got "${v}"`);
  return n;
};

export function registerForecastCommand(experiment: Command, program: Command): void {
  experiment
    .command('forecast <config>')
    .description('predict wall-clock time, slot-hours, instance-hours and cost of an experiment on a pool (simulated; nothing runs)')
    .option('--pool <name>', 'the pool to forecast on (default: the config\'s resources.resource_pool)')
    .option('--slots <n>', 'forecast on N fixed slots instead of a pool', positive('--slots'))
    .option('--seconds-per-unit <s>', 'seconds one unit of max_length takes to train', positive('--seconds-per-unit'))
    .option('--profile <trial-id>', 'take the time per unit and the per-trial overheads (start-up, exit, validation, checkpoint) from a trial that already ran', positive('--profile'))
    .option('--startup-seconds <s>', 'seconds each trial spends starting and finishing beyond training (default 0, or from --profile)', Number)
    .option('--boot-seconds <s>', 'seconds a new instance takes to join (default by provider: local 6, gcp 90, aws 120)', Number)
    .option('--json', 'print JSON (with the timeline)')
    .action(async (configPath: string, o: { pool?: string; slots?: number; secondsPerUnit?: number; profile?: number; startupSeconds?: number; bootSeconds?: number; json?: boolean }) => {
      if (o.pool !== undefined && o.slots !== undefined) throw new HoneError('INVALID_ARGUMENT', '--pool and --slots: give one of them');
      if (o.secondsPerUnit === undefined && o.profile === undefined) throw new HoneError('INVALID_ARGUMENT', 'give --seconds-per-unit S or --profile TRIAL_ID (a trial that already ran)');
      if (o.secondsPerUnit !== undefined && o.profile !== undefined) throw new HoneError('INVALID_ARGUMENT', '--seconds-per-unit and --profile: give one of them');
      const { text } = await readConfigFile(configPath);
      const f = await masterClient(program).post<Forecast>('/experiments/forecast', {
        config: text,
        ...(o.pool !== undefined ? { pool: o.pool } : {}),
        ...(o.slots !== undefined ? { slots: Math.round(o.slots) } : {}),
        ...(o.secondsPerUnit !== undefined ? { seconds_per_unit: o.secondsPerUnit } : {}),
        ...(o.profile !== undefined ? { profile_trial_id: Math.round(o.profile) } : {}),
        ...(o.startupSeconds !== undefined ? { startup_seconds: o.startupSeconds } : {}),
        ...(o.bootSeconds !== undefined ? { boot_seconds: o.bootSeconds } : {}),
      });
      if (wantsJson(program, o)) return printJson(f);
      const rows: Array<[string, string]> = [
        ['Pool', `${f.pool} (${f.poolKind})`],
        ['Time per unit', `${f.timing.secondsPerUnit.toPrecision(3)} s (${f.timing.source})`],
        ['Per trial run', `start-up ${f.timing.startupSeconds.toFixed(2)} s, exit ${f.timing.exitSeconds.toFixed(2)} s, scheduling gap ${f.timing.gapSeconds.toFixed(2)} s`],
        ['Per validation / checkpoint', `${f.timing.validationSeconds.toFixed(3)} s / ${f.timing.checkpointSeconds.toFixed(3)} s`],
        ['Wall-clock', formatSeconds(f.wallClockSeconds)],
        ['Trials', String(f.trials)],
        ['Slot-hours', `${f.slotHours.toFixed(2)} (${f.busySlotHours.toFixed(2)} busy)`],
        ['Slot utilization', formatPercent(f.slotUtilization)],
        ...(f.poolKind === 'provisioned' ? ([['Instance-hours', f.instanceHours.toFixed(2)], ['Peak instances', String(f.peakInstances)]] as Array<[string, string]>) : []),
        ['Cost', f.cost === null ? 'unknown (set hourly_cost on the pool\'s provider)' : `${f.cost.toFixed(2)} (${f.hourlyCost} per instance-hour)`],
      ];
      if (!f.finished) rows.push(['Note', 'the simulated search did not finish (it hit the simulation\'s limit)']);
      console.log(table(['Forecast', ''], rows));
    });
}
