// bench:forecast — how close `hone experiment forecast --profile` comes to the real wall clock on a local cluster.
// A two-trial search runs first (after a warm-up; one of its trials is the profile); the forecast of a random
// search (4 trials, 2 at a time) on the cluster's 2 slots is then made from that trial, and the search is run for
// real. Prints the profile's time model, forecast, actual and their ratio actual/forecast (target: within 15%),
// and as a baseline in the same run the naive estimate that ignores the searcher, the scheduler and the per-trial
// overheads (total units x time per unit / slots). BENCH_TIMELINE=1 also prints every trial's real timeline and
// the simulated one. Last line: one JSON object of the figures.
//
// Trials train BENCH_BATCHES batches (default 4000: ten seconds or more each here). Each agent keeps one harness
// process pre-warmed (started 5 s after it hands one out); a trial that arrives before it is ready pays a cold
// start of seconds, which no profile of a warm trial shows. Both the profile and the search are started once the
// agents' pre-warmed harnesses are ready, as on a cluster that has been running; trials of a few seconds would
// measure the agents' pre-warm delay instead of the forecast.
//
// The trials differ in learning rate only (BENCH_VARY_COMPUTE=1: also in width and optimizer, which change the
// time per batch by 20-35% here, and which a one-trial profile cannot know).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { packContext } from '../../cli/src/context';
import { api, ROOT, startAgentProcess, startMasterProcess, tmpDir, waitFor } from '../../test/helpers/processes';
import { waitForExperimentEnd } from '../../test/helpers/experiments';

const BATCHES = Number(process.env.BENCH_BATCHES ?? 4000);
const dataDir = tmpDir('bench-forecast');
const master = await startMasterProcess({ dataDir, env: { HONE_LOG_LEVEL: 'warn' } });
const agents = [0, 1].map((i) => startAgentProcess({ masterUrl: master.url, id: `bench-fc-${i}`, slots: 1, workDir: path.join(dataDir, `work-${i}`), env: { HONE_LOG_LEVEL: 'debug' } }));
/** Whether every agent has a pre-warmed harness ready that no task has taken yet (from the agents' debug logs). */
const warmReady = () =>
  agents.every((a) => {
    const lastReady = a.output.findLastIndex((l) => l.includes('pre-warmed harness ready'));
    const lastTaken = a.output.findLastIndex((l) => l.includes('"prewarmed":true'));
    return lastReady > lastTaken;
  });
const waitWarm = () => waitFor('pre-warmed harnesses', async () => warmReady(), 120_000, 200).catch(() => console.log('warning: the agents have no pre-warmed harness ready; trials start cold'));
async function printTimeline(exp: any): Promise<void> {
  const t0 = Date.parse(exp.startTime);
  const rel = (s: string | null | undefined) => (s ? ((Date.parse(s) - t0) / 1000).toFixed(2) : '-');
  console.log(`experiment ${exp.id}: end ${rel(exp.endTime)}`);
  for (const tr of exp.trials) {
    const d = (await api<any>(master.url, 'GET', `/trials/${tr.id}`)).body;
    const tm = (await api<any>(master.url, 'GET', `/trials/${tr.id}/metrics?group=training&raw=true`)).body.points;
    const vm = (await api<any>(master.url, 'GET', `/trials/${tr.id}/metrics?group=validation&raw=true`)).body.points;
    const a = d.allocations.map((x: any) => `alloc ${x.agents.join(',')} created ${rel(x.createdAt)} started ${rel(x.startedAt)} ended ${rel(x.endedAt)}`).join('; ');
    console.log(`  trial ${tr.id} hp ${JSON.stringify(d.hparams)} start ${rel(d.startTime)} ${a}`);
    console.log(`    train ${tm.filter((p: any, i: number) => i === 0 || p.stepsCompleted % 100 === 0).map((p: any) => p.stepsCompleted + '@' + rel(p.reportedAt)).join(' ')}`);
    console.log(`    val ${vm.map((p: any) => p.stepsCompleted + '@' + rel(p.reportedAt)).join(' ')} ckpt ${d.checkpoints.map((c: any) => c.stepsCompleted + '@' + rel(c.reportedAt)).join(' ')}`);
  }
}
try {
  await waitFor('agents', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.filter((a) => a.state === 'CONNECTED').length === 2);
  const { data } = await packContext(path.join(ROOT, 'examples/synthetic'), 96 << 20);
  const context = data.toString('base64');
  const run = async (config: string) => {
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config, context });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const exp = await waitForExperimentEnd(master.url, created.body.id, 600_000);
    if (exp.state !== 'COMPLETED') throw new Error(`experiment ${exp.id} ended ${exp.state}`);
    return exp;
  };
  // The search varies the learning rate only: the width and the optimizer change what a batch costs (Adam's
  // extra ops, wider layers), and a profile is the profile of its trial's hyperparameters (the forecast charges
  // every trial its time per unit). BENCH_VARY_COMPUTE=1 keeps random.yaml's hidden_units and optimizer ranges.
  const base = parseYaml(fs.readFileSync(path.join(ROOT, 'examples/synthetic/random.yaml'), 'utf8'));
  if (!process.env.BENCH_VARY_COMPUTE) Object.assign(base.hyperparameters, { hidden_units: 32, optimizer: 'sgd' });
  base.searcher.max_length = { batches: BATCHES };
  base.min_validation_period = { batches: 100 };
  const search = stringifyYaml(base);
  // The profile: two trials of the same model side by side, as the search will run them (the CPU slots of one
  // machine share its cores, so a trial alone would run faster than two together). The first trials on a fresh
  // cluster pay one-off costs (the agents' first harness start, module caches), so a warm-up run comes first, as
  // on a cluster that has been running.
  const profileConfig = stringifyYaml({ ...base, searcher: { ...base.searcher, max_trials: 2 } });
  await run(stringifyYaml({ ...base, searcher: { ...base.searcher, max_trials: 2, max_length: { batches: 50 } } }));
  await waitWarm();
  const profiled = await run(profileConfig);
  const trialId = profiled.trials[0]!.id;
  const f = await api<any>(master.url, 'POST', '/experiments/forecast', { config: search, profile_trial_id: trialId });
  if (f.status !== 200) throw new Error(JSON.stringify(f.body));
  const forecast = f.body.wallClockSeconds as number;
  await waitWarm();
  const exp = await run(search);
  if (process.env.BENCH_TIMELINE) {
    for (const e of [profiled, exp]) await printTimeline(e);
    console.log('simulated:', JSON.stringify(f.body.timeline.map((p: any) => [+p.t.toFixed(2), p.busySlots, p.pendingGangs])));
  }
  const actual = (Date.parse(exp.endTime!) - Date.parse(exp.startTime)) / 1000;
  const tm = f.body.timing;
  const naive = (4 * BATCHES * tm.secondsPerUnit) / 2;
  const ratio = actual / forecast;
  const load = os.loadavg().map((x) => +x.toFixed(2));
  console.log(
    `profile (trial ${trialId}): ${tm.secondsPerUnit.toFixed(5)} s per batch; per run: start-up ${tm.startupSeconds.toFixed(2)} s, exit ${tm.exitSeconds.toFixed(2)} s, gap ${tm.gapSeconds.toFixed(3)} s; validation ${tm.validationSeconds.toFixed(3)} s, checkpoint ${tm.checkpointSeconds.toFixed(3)} s`,
  );
  console.log(`forecast ${forecast.toFixed(1)} s, actual ${actual.toFixed(1)} s: ratio actual/forecast ${ratio.toFixed(3)} (target 0.85-1.15); load average ${load.join(' ')}`);
  console.log(`baseline (units x time per unit / slots): ${naive.toFixed(1)} s, ratio actual/baseline ${(actual / naive).toFixed(3)}`);
  console.log(
    JSON.stringify({
      forecast_seconds: +forecast.toFixed(2),
      actual_seconds: +actual.toFixed(2),
      ratio: +ratio.toFixed(4),
      within_15pct: Math.abs(ratio - 1) <= 0.15,
      naive_seconds: +naive.toFixed(2),
      naive_ratio: +(actual / naive).toFixed(4),
      batches: BATCHES,
      vary_compute: !!process.env.BENCH_VARY_COMPUTE,
      load_average: load,
    }),
  );
} finally {
  for (const a of agents) await a.kill();
  await master.kill();
}
