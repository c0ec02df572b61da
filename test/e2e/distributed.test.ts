// Data-parallel trials with real processes: a master and two agents of one CPU slot each. A trial with
// slots_per_trial: 2 runs one rank on each agent, ring all-reduce between them over 127.0.0.1, and ends where one
// rank training on the same global batches ends. Killing one rank mid-training makes the other exit within
// seconds; the trial restarts once from its latest checkpoint and completes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExperimentConfig, type AgentInfo, type CheckpointInfo, type ExperimentDetail, type MetricPoint, type TaskLog, type TrialSummary } from '@hone/protocol';
import { createCoreContext, MemoryMaster, runTrial, selectBackend } from '@hone/harness';
import { api, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { packContext } from '../../cli/src/context';
import { createTrial } from '../../examples/synthetic/model';

const BASE = fs.readFileSync('examples/synthetic/distributed.yaml', 'utf8');

/** examples/synthetic/distributed.yaml with another name, slot count, length and periods. */
function config(opts: { name: string; slots: number; batches: number; validateEvery?: number; checkpointEvery?: number }): string {
  let y = BASE.replace(/^name: .*$/m, `name: ${opts.name}`)
    .replace(/max_length:\n\s+batches: \d+/, `max_length:\n    batches: ${opts.batches}`)
    .replace(/slots_per_trial: \d+/, `slots_per_trial: ${opts.slots}`);
  if (opts.validateEvery) y = y.replace(/min_validation_period:\n\s+batches: \d+/, `min_validation_period:\n  batches: ${opts.validateEvery}`);
  if (opts.checkpointEvery) y += `min_checkpoint_period:\n  batches: ${opts.checkpointEvery}\n`;
  return y;
}

/** One rank, in this process, on the same backend as the harness: the reference for a trial's seed. */
async function referenceRun(yaml: string, trial: TrialSummary): Promise<MetricPoint[]> {
  const cfg = parseExperimentConfig(yaml);
  const m = new MemoryMaster({ config: cfg, hparams: trial.hparams, seed: trial.seed, ops: [cfg.searcher.max_length!.value] });
  const core = createCoreContext({ client: m, info: await m.getAllocationInfo(m.allocationId), log: () => {}, searcherWaitS: 0 });
  try {
    expect(await runTrial(core, createTrial)).toBe('closed');
  } finally {
    await core.close();
  }
  return m.validation;
}

interface Harness {
  pid: number;
  rank: number;
  allocationId: string;
}

/**
 * The harness processes the agents started, from their "task started" log records (pid, allocation, rank). The
 * environment in /proc/<pid>/environ does not tell: a pre-warmed harness gets its task's environment over IPC
 * after it started. Each pid is checked to still be a harness process.
 */
function harnessProcesses(agents: Proc[]): Harness[] {
  const out: Harness[] = [];
  for (const line of agents.flatMap((a) => a.output)) {
    if (!line.includes('"task started"')) continue;
    try {
      const r = JSON.parse(line) as { msg?: string; pid?: number; rank?: number; allocation?: string };
      if (r.msg !== 'task started' || typeof r.pid !== 'number') continue;
      if (!/harness\/(src\/|dist\/harness\.mjs)/.test(fs.readFileSync(`/proc/${r.pid}/cmdline`, 'utf8'))) continue; // the built harness or its sources
      out.push({ pid: r.pid, rank: r.rank!, allocationId: r.allocation! });
    } catch {
      // not a JSON record, or the process has ended
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const logsOf = async (url: string, trialId: number) => (await api<TaskLog[]>(url, 'GET', `/trials/${trialId}/logs?limit=10000`)).body;
const dump = (logs: TaskLog[]) => logs.map((l) => `[${l.allocationId} r${l.rank} ${l.agentId}] ${l.line}`).join('\n');

describe('data-parallel trials on two agents', () => {
  let master: MasterProc;
  const agents: Proc[] = [];
  let context: string;
  beforeAll(async () => {
    const dataDir = tmpDir('distributed');
    master = await startMasterProcess({ dataDir });
    for (const id of ['dp-a', 'dp-b']) agents.push(startAgentProcess({ masterUrl: master.url, id, slots: 1, workDir: path.join(dataDir, id) }));
    await waitFor('two agents', async () => (await api<AgentInfo[]>(master.url, 'GET', '/agents')).body.filter((a) => a.state === 'CONNECTED').length === 2, 90_000);
    context = (await packContext('examples/synthetic', 96 << 20)).data.toString('base64');
    await selectBackend();
  }, 120_000);
  afterAll(async () => {
    for (const a of agents) await a.kill();
    await master?.kill();
  });

  const submit = async (yaml: string): Promise<number> => {
    const r = await api<{ id: number }>(master.url, 'POST', '/experiments', { config: yaml, context });
    expect(r.status).toBe(201);
    return r.body.id;
  };

  it('trains one trial on two ranks, one per agent, to the result of one rank on the same global batches', async () => {
    const twoYaml = config({ name: 'dp-2', slots: 2, batches: 200 });
    const oneYaml = config({ name: 'dp-1', slots: 1, batches: 200 });
    const two = await waitForExperimentEnd(master.url, await submit(twoYaml), 300_000);
    const t2 = two.trials[0]!;
    if (two.state !== 'COMPLETED') console.log(dump(await logsOf(master.url, t2.id)));
    expect(two.state).toBe('COMPLETED');
    expect(t2.restarts).toBe(0);

    // Placement: the two ranks of the one allocation ran on different agents.
    const logs = await logsOf(master.url, t2.id);
    const allocations = new Set(logs.map((l) => l.allocationId));
    expect(allocations.size).toBe(1);
    const agentOfRank = new Map<number, Set<string>>();
    for (const l of logs) if (l.rank !== null && l.agentId) (agentOfRank.get(l.rank) ?? agentOfRank.set(l.rank, new Set()).get(l.rank)!).add(l.agentId);
    expect([...agentOfRank.keys()].sort()).toEqual([0, 1]);
    expect(agentOfRank.get(0)!.size).toBe(1);
    expect(agentOfRank.get(1)!.size).toBe(1);
    expect(new Set([...agentOfRank.get(0)!, ...agentOfRank.get(1)!])).toEqual(new Set(['dp-a', 'dp-b']));
    expect(logs.some((l) => l.rank === 1 && /rank 1\/2/.test(l.line))).toBe(true);

    const one = await waitForExperimentEnd(master.url, await submit(oneYaml), 300_000);
    expect(one.state).toBe('COMPLETED');
    const t1 = one.trials[0]!;
    const final = async (t: TrialSummary) => {
      const pts = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${t.id}/metrics?group=validation&raw=true`)).body.points;
      expect(pts.at(-1)!.stepsCompleted).toBe(200);
      return pts;
    };
    const v2 = await final(t2);
    const v1 = await final(t1);

    // The master draws every experiment's trial seed at random, and the seed picks the initial weights and the
    // order of batches, so the one-slot experiment trains on other batches than the two-slot one. The exact check
    // is against one rank run here with the two-slot trial's own seed (same batches, same backend): only the order
    // of float additions differs (per-shard means, then the ring's mean), which stays far below 1e-3 relative.
    const ref2 = await referenceRun(twoYaml, t2);
    const ref1 = await referenceRun(oneYaml, t1);
    const loss = (pts: MetricPoint[]) => pts.at(-1)!.metrics.validation_loss!;
    console.log(`validation_loss at 200: 2 slots ${loss(v2)} (1 rank, same seed: ${loss(ref2)}); 1 slot ${loss(v1)} (in-process: ${loss(ref1)})`);
    expect(v2.map((p) => p.stepsCompleted)).toEqual(ref2.map((p) => p.stepsCompleted));
    v2.forEach((p, i) => expect(Math.abs(p.metrics.validation_loss! - ref2[i]!.metrics.validation_loss!) / ref2[i]!.metrics.validation_loss!).toBeLessThan(1e-3));
    // The one-slot experiment is the same loop on one rank: it matches its own in-process run just as closely.
    expect(Math.abs(loss(v1) - loss(ref1)) / loss(ref1)).toBeLessThan(1e-3);
    // Across seeds the two experiments agree only as well as seeds do: over 30 random seeds this config's
    // validation_loss at 200 batches ranged 0.018–0.032 (max/min 1.8; another run here saw 0.034), so they must agree within a factor of 2.5
    // (and both have learned: an untrained model's loss is ~0.5). A wrong gradient average (a sum over ranks, one
    // rank's gradient only) lands far outside this, and the exact same-seed check above catches subtler ones.
    expect(Math.max(loss(v2) / loss(v1), loss(v1) / loss(v2))).toBeLessThan(2.5);
    expect(Math.max(loss(v1), loss(v2))).toBeLessThan(0.1);
  }, 600_000);

  it('fails the allocation fast when one rank dies, then resumes from the latest checkpoint', async () => {
    const yaml = config({ name: 'dp-kill', slots: 2, batches: 1200, validateEvery: 400, checkpointEvery: 50 });
    const id = await submit(yaml);
    // Both ranks train and a checkpoint exists.
    const trial = await waitFor(
      'a checkpoint while training',
      async () => {
        const d = (await api<ExperimentDetail>(master.url, 'GET', `/experiments/${id}`)).body;
        const t = d.trials[0];
        return t?.latestCheckpoint && t.latestTraining ? t : null;
      },
      300_000,
      200,
    );
    if (trial.restarts !== 0) console.log(dump(await logsOf(master.url, trial.id)));
    expect(trial.restarts).toBe(0);
    // The running allocation: the one whose ranks logged training.
    const trialAllocation = (await logsOf(master.url, trial.id)).find((l) => l.line.startsWith('harness: trial'))!.allocationId;
    const ranks = await waitFor('both ranks of the allocation', async () => {
      const found = harnessProcesses(agents).filter((h) => h.allocationId === trialAllocation);
      return found.length === 2 ? found : null;
    }, 30_000, 100).catch(async (e: Error) => {
      console.log(`${e.message}; harness processes: ${JSON.stringify(harnessProcesses(agents))}\n${dump(await logsOf(master.url, trial.id))}`);
      throw e;
    });
    expect(ranks.map((h) => h.rank).sort()).toEqual([0, 1]);
    const rank0 = ranks.find((h) => h.rank === 0)!;
    const rank1 = ranks.find((h) => h.rank === 1)!;
    const firstAllocation = rank1.allocationId;
    expect(rank0.allocationId).toBe(firstAllocation);
    // Mid-training: a checkpoint exists and the end is far off.
    const before = (await api<TrialSummary & { checkpoints: CheckpointInfo[] }>(master.url, 'GET', `/trials/${trial.id}`)).body;
    const atKill = { checkpointSteps: Math.max(...before.checkpoints.map((c) => c.stepsCompleted)) };
    expect(atKill.checkpointSteps).toBeGreaterThan(0);
    expect(before.completedLength).toBe(0);

    // Rank 0 is busy when its peer dies (stopped for a moment, as a rank in a long step or on a loaded host is
    // not running): it still learns of the failure from the ring and exits on its own, saying why. The master
    // hears of rank 1's exit as fast as rank 0 would, and used to kill rank 0 at once, before it had run again:
    // its last line was lost (a flaky failure of the log check below, on a busy CI machine).
    process.kill(rank0.pid, 'SIGSTOP');
    process.kill(rank1.pid, 'SIGKILL');
    const killedAt = Date.now();
    setTimeout(() => alive(rank0.pid) && process.kill(rank0.pid, 'SIGCONT'), 300);
    // The surviving rank sees the ring drop and exits; the agents report it and the master frees both slots.
    let rank0GoneMs = -1;
    let slotsFreedMs = -1;
    while (Date.now() - killedAt < 30_000 && (rank0GoneMs < 0 || slotsFreedMs < 0)) {
      if (rank0GoneMs < 0 && !alive(rank0.pid)) rank0GoneMs = Date.now() - killedAt;
      if (slotsFreedMs < 0) {
        const slots = (await api<AgentInfo[]>(master.url, 'GET', '/agents')).body.flatMap((a) => a.slots);
        if (!slots.some((s) => s.allocationId === firstAllocation)) slotsFreedMs = Date.now() - killedAt;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`rank 1 killed: rank 0 exited after ${rank0GoneMs} ms, allocation's slots freed after ${slotsFreedMs} ms`);
    // Acceptance bound: 10 s. The ring reports a dropped peer within milliseconds and the harness exits at once
    // (here once it runs again); the rest is the agent's 50 ms log drain, one WebSocket message and one
    // transaction, so the bound leaves more than an order of magnitude for a loaded CI machine. A rank that does
    // not exit on its own is killed by the master after its rank-failure grace (3 s, lifecycle.ts): the checks
    // of rank 0's exit code and last line below tell that apart.
    expect(rank0GoneMs).toBeGreaterThanOrEqual(0);
    expect(rank0GoneMs).toBeLessThan(10_000);
    expect(slotsFreedMs).toBeGreaterThanOrEqual(0);
    expect(slotsFreedMs).toBeLessThan(10_000);

    const done = await waitForExperimentEnd(master.url, id, 500_000);
    const t = done.trials[0]!;
    const logs = await logsOf(master.url, t.id);
    if (done.state !== 'COMPLETED' || t.restarts !== 1) console.log(dump(logs));
    expect(done.state).toBe('COMPLETED');
    expect(t.restarts).toBe(1);
    expect(t.completedLength).toBe(1200);
    // Rank 0 ended on its own (exit 1), not by the master's kill, and its last line reached the trial's logs.
    const exits = agents
      .flatMap((a) => a.output)
      .filter((l) => l.includes('"task exited"') && l.includes(firstAllocation))
      .map((l) => JSON.parse(l) as { rank: number; code: number | null; signal: string | null });
    expect(exits.find((e) => e.rank === 0)).toMatchObject({ code: 1, signal: null });
    expect(logs.some((l) => l.allocationId === firstAllocation && l.rank === 0 && /distributed training failed: rank 1 disconnected/.test(l.line))).toBe(true);
    // A later allocation restored, on both ranks, the latest checkpoint the killed allocation registered, and went
    // on from its step.
    const checkpoints = (await api<{ checkpoints: CheckpointInfo[] }>(master.url, 'GET', `/trials/${t.id}`)).body.checkpoints;
    const latest = checkpoints.filter((c) => c.allocationId === firstAllocation).sort((a, b) => a.stepsCompleted - b.stepsCompleted).at(-1)!;
    expect(latest.stepsCompleted).toBeGreaterThanOrEqual(atKill.checkpointSteps);
    const later = logs.filter((l) => l.allocationId !== null && l.allocationId !== firstAllocation);
    const secondAllocation = later[0]!.allocationId;
    for (const rank of [0, 1]) {
      expect(later.some((l) => l.allocationId === secondAllocation && l.rank === rank && l.line.includes(`checkpoint ${latest.uuid} restored (${latest.stepsCompleted} steps)`))).toBe(true);
      expect(later.some((l) => l.allocationId === secondAllocation && l.rank === rank && l.line.startsWith(`resuming at ${latest.stepsCompleted} batches`))).toBe(true);
    }
    expect(latest.stepsCompleted % 50).toBe(0);
    expect(latest.stepsCompleted).toBeLessThan(1200);
    // Steps after the resume point were trained again: the resumed run's points supersede the killed run's, so
    // every step reads back once, in order, up to the end.
    const train = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${t.id}/metrics?group=training&raw=true`)).body.points;
    const steps = train.map((p) => p.stepsCompleted);
    expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b));
    expect(train.at(-1)!.stepsCompleted).toBe(1200);
  }, 700_000);
});
