// bench:submit — time from `experiment create` (the API request the CLI makes, after packing the model
// directory) to the first training step the harness reports, on a local cluster of real processes.
// Baseline in the same run: a bare Node process that loads TensorFlow.js, builds the same model and trains
// one step — what a launcher that starts a fresh process per trial pays at least.
// Each submit goes to an idle cluster (the agent has had a few seconds since it connected or since the last
// trial), as when a user submits an experiment: the agent keeps one pre-warmed harness ready then.
import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import WebSocket from 'ws';
import { packContext } from '../../cli/src/context';
import { startAgentProcess, startMasterProcess, tmpDir, waitFor, api, ROOT } from '../../test/helpers/processes';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function baselineOnce(): Promise<number> {
  const script = path.join(ROOT, 'bench/submit/baseline-step.ts');
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', script], { cwd: path.join(ROOT, 'examples/synthetic'), stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.on('data', (d) => {
      if (String(d).includes('first step')) resolve();
    });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`baseline exited ${code}`))));
  });
  return performance.now() - t0;
}

const dataDir = tmpDir('bench-submit');
const master = await startMasterProcess({ dataDir, env: { HONE_LOG_LEVEL: 'warn' } });
const agent = startAgentProcess({ masterUrl: master.url, id: 'bench-agent', slots: 1, workDir: path.join(dataDir, 'work'), env: { HONE_LOG_LEVEL: 'warn' } });
try {
  await waitFor('agent', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.some((a) => a.state === 'CONNECTED'));
  const idle = () => new Promise((r) => setTimeout(r, Number(process.env.BENCH_IDLE_MS ?? 8000)));
  await idle();
  const config = fs.readFileSync(path.join(ROOT, 'examples/synthetic/single.yaml'), 'utf8');
  const submitMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const ws = new WebSocket(`${master.url.replace('http', 'ws')}/api/v1/stream?token=${master.token}`);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', topics: ['experiments'] }));
    const t0 = performance.now();
    const { data } = await packContext(path.join(ROOT, 'examples/synthetic'), 96 << 20);
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config, context: data.toString('base64') });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const id = created.body.id;
    ws.send(JSON.stringify({ type: 'subscribe', topics: [`experiment:${id}`] }));
    await new Promise<void>((resolve) => {
      ws.on('message', (m) => {
        const e = JSON.parse(String(m));
        if (e.type === 'metrics' && e.group === 'training') resolve();
      });
    });
    const ms = performance.now() - t0;
    submitMs.push(ms);
    ws.close();
    console.log(`run ${i + 1}: submit -> first training step ${ms.toFixed(0)} ms`);
    await api(master.url, 'POST', `/experiments/${id}/kill`);
    await waitFor('slot free', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.every((a) => a.slots.every((s: any) => !s.allocationId)), 60_000);
    await idle();
  }
  const base: number[] = [];
  for (let i = 0; i < RUNS; i++) base.push(await baselineOnce());
  const result = {
    submit_to_first_step_ms: Math.round(median(submitMs)),
    baseline_process_first_step_ms: Math.round(median(base)),
    ratio: Number((median(submitMs) / median(base)).toFixed(2)),
    target_ms: 3000,
    runs: RUNS,
  };
  console.log(`median submit -> first step: ${result.submit_to_first_step_ms} ms (target <= 3000); bare process baseline ${result.baseline_process_first_step_ms} ms; ratio ${result.ratio}`);
  console.log(JSON.stringify(result));
} finally {
  await agent.kill();
  await master.kill();
}
