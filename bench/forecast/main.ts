// bench:forecast — how close `hone experiment forecast --profile` comes to the real wall clock on a local cluster.
// A short two-trial search runs first (after a warm-up; one of its trials is the profile); the forecast of a random search (4 trials, 2 at a time)
// on the cluster's 2 slots is then made from that trial, and the search is run for real. Prints forecast, actual
// and their ratio (target: within 15%), and as a baseline in the same run the naive estimate that ignores the
// searcher and the scheduler (total units × time per unit / slots), with its ratio.
import fs from 'node:fs';
import path from 'node:path';
import { packContext } from '../../cli/src/context';
import { api, ROOT, startAgentProcess, startMasterProcess, tmpDir, waitFor } from '../../test/helpers/processes';
import { waitForExperimentEnd } from '../../test/helpers/experiments';

const BATCHES = Number(process.env.BENCH_BATCHES ?? 400);
const dataDir = tmpDir('bench-forecast');
const master = await startMasterProcess({ dataDir, env: { HONE_LOG_LEVEL: 'warn' } });
const agents = [0, 1].map((i) => startAgentProcess({ masterUrl: master.url, id: `bench-fc-${i}`, slots: 1, workDir: path.join(dataDir, `work-${i}`), env: { HONE_LOG_LEVEL: 'warn' } }));
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
  const search = fs
    .readFileSync(path.join(ROOT, 'examples/synthetic/random.yaml'), 'utf8')
    .replace(/batches: \d+/, `batches: ${BATCHES}`)
    .concat('min_validation_period:\n  batches: 100\n');
  // The profile: two trials of the same model side by side, as the search will run them (the CPU slots of one
  // machine share its cores, so a trial alone would run faster than two together). The first trials on a fresh
  // cluster pay one-off costs (the agents' first harness start, module caches), so a warm-up run comes first, as
  // on a cluster that has been running.
  const profileConfig = search.replace('max_trials: 4', 'max_trials: 2');
  await run(profileConfig.replace(/batches: \d+/, 'batches: 50'));
  const profiled = await run(profileConfig);
  const trialId = profiled.trials[0]!.id;
  const f = await api<any>(master.url, 'POST', '/experiments/forecast', { config: search, profile_trial_id: trialId });
  if (f.status !== 200) throw new Error(JSON.stringify(f.body));
  const forecast = f.body.wallClockSeconds as number;
  const exp = await run(search);
  const actual = (Date.parse(exp.endTime!) - Date.parse(exp.startTime)) / 1000;
  const naive = (4 * BATCHES * f.body.timing.secondsPerUnit) / 2;
  const ratio = forecast / actual;
  console.log(`time per unit ${f.body.timing.secondsPerUnit.toFixed(4)} s, start-up ${f.body.timing.startupSeconds.toFixed(2)} s (from trial ${trialId})`);
  console.log(`forecast ${forecast.toFixed(1)} s, actual ${actual.toFixed(1)} s: ratio ${ratio.toFixed(3)} (target 0.85-1.15)`);
  console.log(`baseline (units x time per unit / slots): ${naive.toFixed(1)} s, ratio ${(naive / actual).toFixed(3)}`);
  console.log(JSON.stringify({ forecastSeconds: +forecast.toFixed(2), actualSeconds: +actual.toFixed(2), ratio: +ratio.toFixed(4), naiveSeconds: +naive.toFixed(2), naiveRatio: +(naive / actual).toFixed(4), withinTarget: Math.abs(ratio - 1) <= 0.15 }));
} finally {
  for (const a of agents) await a.kill();
  await master.kill();
}
