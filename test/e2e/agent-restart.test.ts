// An agent restart does not lose trials. Ranks run detached and outlive their agent; an agent restarted with the
// same id and work directory adopts them (its log shipping resumes where the master acknowledged, so no line is
// lost or repeated), reports ranks that died while it was away with their exit codes, and delivers what its
// persisted outbox held even when the master was down too. An agent that stays away past the grace period has its
// trials retried elsewhere, and its orphaned ranks stop (their task token dies with the allocation).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentInfo, MetricPoint, TaskLog, TrialDetail } from '@hone/protocol';
import { archive } from '../helpers/archive';
import { waitForExperimentEnd } from '../helpers/experiments';
import { api, freePort, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';

/**
 * Core-API training: one numbered line per step, slow enough to be interrupted; SIGUSR2 makes the rank exit 42.
 * Trials a test signals are long (20 s): on a loaded machine the test may see a trial train late, and a trial that
 * has already ended may still have its process (kept for the next trial), which the signal would then end instead.
 */
const TRAIN = `export default async function train(core) {
  process.on('SIGUSR2', () => process.exit(42));
  let steps = 0;
  for await (const op of core.searcher.operations()) {
    while (steps < op.length) {
      steps += 1;
      console.log('line ' + steps);
      if (steps % 5 === 0) core.train.reportTrainingMetrics(steps, { loss: 1 / steps });
      await new Promise((r) => setTimeout(r, 100));
    }
    await core.train.reportValidationMetrics(steps, { validation_loss: 1 / steps });
    await op.reportCompleted(1 / steps);
  }
}
`;

const config = (name: string, pool: string, batches: number) => `
name: ${name}
entrypoint: train.ts
hyperparameters: {}
searcher: {name: single, metric: validation_loss, max_length: {batches: ${batches}}}
resources: {resource_pool: ${pool}}
max_restarts: 2
`;

const GRACE_S = 25;

/** The pid of the harness rank 0 of `allocationId`: the process whose working directory is that rank's task directory. */
function rankPid(allocationId: string): number | null {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readlinkSync(`/proc/${d}/cwd`).endsWith(`/${allocationId}-r0`)) return Number(d);
    } catch {
      // gone, or not ours to read
    }
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('agent restart', () => {
  const dataDir = tmpDir('agent-restart');
  let port = 0;
  let master: MasterProc;
  const procs: Proc[] = [];
  const pids: number[] = [];
  const startMaster = async () => {
    master = await startMasterProcess({ dataDir, port, args: ['--agent-grace-s', String(GRACE_S)] });
    procs.push(master);
  };
  const agent = (id: string, pool: string, workDir: string) => {
    const p = startAgentProcess({ masterUrl: `http://127.0.0.1:${port}`, id, pool, workDir, env: { HONE_AGENT_STOP_TASKS_ON_EXIT: '0' } });
    procs.push(p);
    return p;
  };
  const connected = (id: string) =>
    waitFor(`agent ${id} to connect`, async () => (await api<AgentInfo[]>(master.url, 'GET', '/agents')).body.find((a) => a.id === id && a.state === 'CONNECTED'), 120_000);
  const submit = async (name: string, pool: string, batches: number) => {
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: config(name, pool, batches), context: (await archive({ 'train.ts': TRAIN })).toString('base64') });
    expect(created.status).toBe(201);
    return created.body.id;
  };
  /** The experiment's one trial, once its run has reported training metrics (it is mid-training). */
  const training = (expId: number) =>
    waitFor(
      `experiment ${expId} to train`,
      async () => {
        const e = (await api<{ trials: Array<{ id: number; latestTraining: unknown }> }>(master.url, 'GET', `/experiments/${expId}`)).body;
        const t = e.trials[0];
        if (!t?.latestTraining) return null;
        const d = (await api<TrialDetail>(master.url, 'GET', `/trials/${t.id}`)).body;
        const run = d.allocations.find((a) => a.state === 'RUNNING');
        return run ? { trialId: t.id, allocationId: run.id } : null;
      },
      180_000,
    );
  const logLines = async (trialId: number) => {
    const out: TaskLog[] = [];
    for (let after = 0; ; ) {
      const page = (await api<TaskLog[]>(master.url, 'GET', `/trials/${trialId}/logs?after_id=${after}&limit=5000`)).body;
      if (!page.length) return out;
      out.push(...page);
      after = page[page.length - 1]!.id;
    }
  };

  beforeAll(async () => {
    port = await freePort();
    await startMaster();
  }, 180_000);
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('an agent SIGKILLed mid-training and restarted within the grace period keeps its trial: 0 restarts, every line once', async () => {
    const workDir = path.join(dataDir, 'work-a');
    let a = agent('readopt-a', 'p1', workDir);
    await connected('readopt-a');
    const expId = await submit('readopt', 'p1', 120);
    const { trialId, allocationId } = await training(expId);
    const pid = rankPid(allocationId)!;
    expect(pid).not.toBeNull();
    pids.push(pid);
    await a.kill('SIGKILL');
    // The rank did not go with its agent (it prints a line every 100 ms: a pipe to a dead agent would kill it).
    await new Promise((r) => setTimeout(r, 1500));
    expect(alive(pid)).toBe(true);
    a = agent('readopt-a', 'p1', workDir);

    const exp = await waitForExperimentEnd(master.url, expId, 300_000);
    expect(exp.state).toBe('COMPLETED');
    const t = (await api<TrialDetail>(master.url, 'GET', `/trials/${trialId}`)).body;
    expect(t.restarts).toBe(0);
    // One run: the same allocation, re-adopted, finished the trial.
    expect(t.allocations.map((x) => [x.id, x.exitReason])).toEqual([[allocationId, 'exited']]);
    const steps = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${trialId}/metrics?group=training&raw=true`)).body.points.map((p) => p.stepsCompleted);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps).toEqual([...new Set(steps)].sort((x, y) => x - y));
    const numbered = (await logLines(trialId)).map((l) => /^line (\d+)$/.exec(l.line)?.[1]).filter((n): n is string => n !== undefined).map(Number);
    expect(numbered).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    await a.kill('SIGTERM');
  }, 600_000);

  it('a rank that died while its agent was away is reported with its exit code, and the trial restarts', async () => {
    const workDir = path.join(dataDir, 'work-c');
    let a = agent('readopt-c', 'p1', workDir);
    await connected('readopt-c');
    const expId = await submit('rank-died', 'p1', 200);
    const { trialId, allocationId } = await training(expId);
    const pid = rankPid(allocationId)!;
    pids.push(pid);
    await a.kill('SIGKILL');
    process.kill(pid, 'SIGUSR2');
    await waitFor('the rank to exit', async () => !alive(pid), 30_000);
    a = agent('readopt-c', 'p1', workDir);

    const exp = await waitForExperimentEnd(master.url, expId, 300_000);
    expect(exp.state).toBe('COMPLETED');
    const t = (await api<TrialDetail>(master.url, 'GET', `/trials/${trialId}`)).body;
    expect(t.restarts).toBe(1);
    expect(t.allocations[0]).toMatchObject({ id: allocationId, exitCode: 42, exitReason: 'rank 0 exited with 42', failed: true });
    expect(t.allocations).toHaveLength(2);
    await a.kill('SIGTERM');
  }, 600_000);

  it('exits queued while the master was down, by an agent that then restarted too, reach the master', async () => {
    const workDir = path.join(dataDir, 'work-d');
    let a = agent('readopt-d', 'p1', workDir);
    await connected('readopt-d');
    const expId = await submit('outbox', 'p1', 200);
    const { trialId, allocationId } = await training(expId);
    const pid = rankPid(allocationId)!;
    pids.push(pid);
    await master.kill('SIGKILL');
    // With no master to hear it, the rank fails; its agent queues the exit (and its last lines), then is killed.
    process.kill(pid, 'SIGUSR2');
    await waitFor('the rank to exit', async () => !alive(pid), 30_000);
    await waitFor('the exit to be queued', async () => fs.readFileSync(path.join(workDir, 'outbox.jsonl'), 'utf8').includes('"exitCode":42'), 30_000);
    await a.kill('SIGKILL');
    a = agent('readopt-d', 'p1', workDir);
    await new Promise((r) => setTimeout(r, 2000));
    await startMaster();

    const exp = await waitForExperimentEnd(master.url, expId, 300_000);
    expect(exp.state).toBe('COMPLETED');
    const t = (await api<TrialDetail>(master.url, 'GET', `/trials/${trialId}`)).body;
    expect(t.allocations[0]).toMatchObject({ id: allocationId, exitCode: 42, exitReason: 'rank 0 exited with 42', failed: true });
    expect(t.restarts).toBe(1);
    await a.kill('SIGTERM');
  }, 600_000);

  it('an agent gone past the grace period has its trial retried on another agent; its orphaned rank stops', async () => {
    const b1 = agent('readopt-b1', 'p2', path.join(dataDir, 'work-b1'));
    await connected('readopt-b1');
    // Longer than the grace period: the orphan would otherwise finish the trial on its own while its agent is away.
    const expId = await submit('retried', 'p2', 350);
    const { trialId, allocationId } = await training(expId);
    const pid = rankPid(allocationId)!;
    pids.push(pid);
    await b1.kill('SIGKILL');
    const b2 = agent('readopt-b2', 'p2', path.join(dataDir, 'work-b2'));
    const exp = await waitForExperimentEnd(master.url, expId, 300_000);
    expect(exp.state).toBe('COMPLETED');
    const t = (await api<TrialDetail>(master.url, 'GET', `/trials/${trialId}`)).body;
    expect(t.allocations.map((x) => [x.agents, x.exitReason])).toEqual([
      [['readopt-b1'], 'lost agent readopt-b1'],
      [['readopt-b2'], 'exited'],
    ]);
    expect(t.restarts).toBe(0);
    // The orphan lost its task token with its allocation: it stopped rather than train on unseen.
    await waitFor('the orphaned rank to stop', async () => !alive(pid), 120_000);
    const steps = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${trialId}/metrics?group=validation&raw=true`)).body.points.map((p) => p.stepsCompleted);
    expect(steps).toEqual([350]);
    await b2.kill('SIGTERM');
  }, 600_000);
});
