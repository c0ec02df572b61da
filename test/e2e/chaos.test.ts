// Chaos: an ASHA experiment of 8 trials and a 2-slot data-parallel trial on two agents, while the master is
// SIGKILLed three times, an agent is SIGKILLed and restarted, a harness rank is SIGKILLed and (on PostgreSQL) the
// master's database connections are terminated and new ones refused for 10 s. When each fault strikes is drawn from
// a seeded generator; the seed is printed (replay with HONE_CHAOS_SEED=<seed>).
//
// Afterwards: both experiments completed; every trial exists once; within each trial the metric steps read back
// are unique and increasing; no allocation is left live and no rank process is left running; every validation the
// master answered with during the run is still stored; only the trial whose rank was killed counts a restart; and
// checkpoint GC left exactly the checkpoints the policy keeps, in the database and on disk.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentInfo, CheckpointInfo, ExperimentDetail, MetricPoint, TrialDetail } from '@hone/protocol';
import { mulberry32 } from '@hone/harness';
import { checkpointsToDelete } from '../../master/src/checkpoints/gcPolicy';
import { packContext } from '../../cli/src/context';
import { api, freePort, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { waitForExperimentEnd } from '../helpers/experiments';
import { freshDatabase, postgresAvailable } from '../helpers/services';

const SEED = Number(process.env.HONE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Harness rank processes (their pid and working directory, the task directory named after the allocation). */
function harnessRanks(): Array<{ pid: number; cwd: string }> {
  const out: Array<{ pid: number; cwd: string }> = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!/harness\/(src\/|dist\/harness\.mjs)/.test(fs.readFileSync(`/proc/${e}/cmdline`, 'utf8'))) continue;
      out.push({ pid: Number(e), cwd: fs.readlinkSync(`/proc/${e}/cwd`) });
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

type Fault = 'master' | 'agent' | 'rank' | 'database';

describe.each([
  { db: 'postgres' as const, faults: ['master', 'master', 'master', 'agent', 'rank', 'database'] as Fault[] },
  { db: 'pglite' as const, faults: ['master', 'master', 'master', 'agent', 'rank'] as Fault[] },
])('chaos on $db', ({ db, faults }) => {
  const procs: Proc[] = [];
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
  });

  it('completes both experiments through every fault, losing and repeating nothing', async (t) => {
    let dbUrl: string | undefined;
    let dropDb: (() => Promise<void>) | undefined;
    if (db === 'postgres') {
      if (!(await postgresAvailable())) return t.skip();
      const fresh = await freshDatabase('hone_chaos');
      dbUrl = fresh.url;
      dropDb = fresh.drop;
    }
    const random = mulberry32(SEED + (db === 'postgres' ? 0 : 1));
    console.log(`chaos on ${db}: seed ${SEED} (replay with HONE_CHAOS_SEED=${SEED})`);
    const dataDir = tmpDir(`chaos-${db}`);
    const port = await freePort();
    const masterArgs = ['--agent-grace-s', '60', '--preemption-timeout-s', '30'];
    let master: MasterProc = await startMasterProcess({ dataDir, port, ...(dbUrl ? { dbUrl } : {}), args: masterArgs });
    procs.push(master);
    const url = master.url;
    const agentIds = ['chaos-a', 'chaos-b'];
    const workDir = (id: string) => path.join(dataDir, `work-${id}`);
    const agents = new Map<string, Proc>();
    const startAgent = (id: string) => {
      const a = startAgentProcess({ masterUrl: url, id, slots: 2, workDir: workDir(id) });
      agents.set(id, a);
      procs.push(a);
    };
    agentIds.forEach(startAgent);

    const { data } = await packContext('examples/synthetic', 96 << 20);
    const context = data.toString('base64');
    const asha = fs
      .readFileSync('examples/synthetic/adaptive_asha.yaml', 'utf8')
      .replace('max_concurrent_trials: 2', 'max_concurrent_trials: 3')
      .replace(/batches: 256/, 'batches: 2560')
      .replace('global_batch_size: 32', 'global_batch_size: 32\n  batch_ms: 40');
    const dist = fs
      .readFileSync('examples/synthetic/distributed.yaml', 'utf8')
      .replace(/batches: 200/, 'batches: 4000')
      .replace('global_batch_size: 64', 'global_batch_size: 64\n  batch_ms: 30');
    const ids: number[] = [];
    for (const config of [asha, dist]) {
      const r = await api<{ id: number }>(url, 'POST', '/experiments', { config, context });
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }

    // Every validation the master answers with is recorded, to check at the end that none was lost.
    const seen = new Map<string, number>(); // "trial:step" -> value
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          for (const id of ids) {
            const d = await api<ExperimentDetail>(url, 'GET', `/experiments/${id}`);
            for (const tr of d.body.trials ?? []) {
              const v = await api<{ points: MetricPoint[] }>(url, 'GET', `/trials/${tr.id}/metrics?group=validation&raw=true`);
              for (const p of v.body.points ?? []) seen.set(`${tr.id}:${p.stepsCompleted}`, p.metrics.validation_loss!);
            }
          }
        } catch {
          // the master is down or its database is: that is the point
        }
        await sleep(1500);
      }
    })();

    await waitFor('trials to train', async () => {
      const d = await api<ExperimentDetail>(url, 'GET', `/experiments/${ids[0]}`);
      return d.body.trials.some((tr) => tr.latestTraining !== null);
    }, 180_000);

    // The faults, in a seeded order, each after a seeded pause.
    const order = [...faults].sort(() => random() - 0.5);
    let killedRankTrial: number | null = null;
    const trialOfAllocation = async (allocationDir: string): Promise<number | null> => {
      for (const id of ids) {
        const d = await api<ExperimentDetail>(url, 'GET', `/experiments/${id}`);
        for (const tr of d.body.trials) {
          const detail = await api<TrialDetail>(url, 'GET', `/trials/${tr.id}`);
          if (detail.body.allocations.some((a) => allocationDir.includes(a.id))) return tr.id;
        }
      }
      return null;
    };
    for (const fault of order) {
      await sleep(3000 + random() * 5000);
      console.log(`chaos on ${db}: ${fault}`);
      if (fault === 'master') {
        await master.kill('SIGKILL');
        await sleep(500 + random() * 2500);
        master = await startMasterProcess({ dataDir, port, ...(dbUrl ? { dbUrl } : {}), args: masterArgs });
        procs.push(master);
      } else if (fault === 'agent') {
        // An agent with ranks running, so that the fault has something to lose.
        const busy = await waitFor('an agent with a running trial', async () => {
          const list = (await api<AgentInfo[]>(url, 'GET', '/agents')).body;
          const withWork = list.filter((a) => a.state === 'CONNECTED' && a.slots.some((sl) => sl.allocationId !== null)).map((a) => a.id);
          return withWork.length ? withWork : null;
        }, 60_000);
        const id = busy[Math.floor(random() * busy.length)]!;
        console.log(`chaos on ${db}: killed agent ${id}`);
        await agents.get(id)!.kill('SIGKILL');
        await sleep(5000);
        startAgent(id);
      } else if (fault === 'rank') {
        const ranks = harnessRanks();
        // A rank of a trial that has an allocation the master knows (not a pre-warmed harness waiting for work).
        for (const r of ranks.sort(() => random() - 0.5)) {
          const trial = await trialOfAllocation(r.cwd);
          if (trial === null) continue;
          process.kill(r.pid, 'SIGKILL');
          killedRankTrial = trial;
          console.log(`chaos on ${db}: killed rank pid ${r.pid} of trial ${trial}`);
          break;
        }
      } else if (fault === 'database') {
        const name = new URL(dbUrl!).pathname.slice(1);
        const admin = new pg.Client({ connectionString: dbUrl!.replace(`/${name}`, '/test') });
        await admin.connect();
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        await sleep(10_000);
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        await admin.end();
      }
    }

    // Every fault struck while there was still work: the ASHA experiment (the long one) was not over yet. Both
    // are sized to outlast the faults whatever the load (each batch waits `batch_ms` without using the CPU); when
    // the data-parallel one did not, say so.
    expect((await api<ExperimentDetail>(url, 'GET', `/experiments/${ids[0]}`)).body.state, 'the ASHA experiment after the faults').toBe('ACTIVE');
    const distState = (await api<ExperimentDetail>(url, 'GET', `/experiments/${ids[1]}`)).body.state;
    if (distState !== 'ACTIVE') console.log(`chaos on ${db}: the data-parallel experiment ended (${distState}) before the last fault`);

    const ended: ExperimentDetail[] = [];
    for (const id of ids) ended.push(await waitForExperimentEnd(url, id, 600_000));
    watching = false;
    await watcher;
    for (const e of ended) expect(e.state, `experiment ${e.id}`).toBe('COMPLETED');

    // Every trial once; steps unique and increasing; every validation seen during the run still stored.
    expect(ended[0]!.trials.length).toBeGreaterThanOrEqual(8);
    for (const e of ended) {
      expect(new Set(e.trials.map((tr) => tr.requestId)).size).toBe(e.trials.length);
      for (const tr of e.trials) {
        for (const group of ['training', 'validation']) {
          const steps = (await api<{ points: MetricPoint[] }>(url, 'GET', `/trials/${tr.id}/metrics?group=${group}&raw=true`)).body.points.map((p) => p.stepsCompleted);
          for (let i = 1; i < steps.length; i++) expect(steps[i], `trial ${tr.id} ${group} steps ${steps.join(',')}`).toBeGreaterThan(steps[i - 1]!);
        }
      }
    }
    const stored = new Map<string, number>();
    for (const e of ended) {
      for (const tr of e.trials) {
        const v = await api<{ points: MetricPoint[] }>(url, 'GET', `/trials/${tr.id}/metrics?group=validation&raw=true`);
        for (const p of v.body.points) stored.set(`${tr.id}:${p.stepsCompleted}`, p.metrics.validation_loss!);
      }
    }
    for (const [key, value] of seen) {
      // A restarted trial trains the steps after its checkpoint again: those values are superseded by the new run's.
      if (killedRankTrial !== null && key.startsWith(`${killedRankTrial}:`)) continue;
      expect(stored.get(key), `validation ${key}`).toBe(value);
    }

    // Nothing left live, no rank left running.
    for (const e of ended) {
      for (const tr of e.trials) {
        const d = await api<TrialDetail>(url, 'GET', `/trials/${tr.id}`);
        for (const a of d.body.allocations) expect(a.state, `allocation ${a.id} of trial ${tr.id}`).toBe('TERMINATED');
      }
    }
    const allocationIds: string[] = [];
    for (const e of ended) for (const tr of e.trials) allocationIds.push(...(await api<TrialDetail>(url, 'GET', `/trials/${tr.id}`)).body.allocations.map((a) => a.id));
    await waitFor('every rank process to exit', async () => !harnessRanks().some((r) => allocationIds.some((a) => r.cwd.includes(a))) || null, 30_000);
    await waitFor('both agents to be connected', async () => {
      const list = await api<AgentInfo[]>(url, 'GET', '/agents');
      return list.body.filter((a) => a.state === 'CONNECTED').map((a) => a.id).sort().join() === agentIds.join() || null;
    }, 60_000);

    // Restarts only where a rank really died.
    for (const e of ended) {
      for (const tr of e.trials) {
        if (tr.id === killedRankTrial) expect(tr.restarts, `trial ${tr.id} (its rank was killed)`).toBe(1);
        else expect(tr.restarts, `trial ${tr.id}`).toBe(0);
      }
    }
    expect(killedRankTrial).not.toBeNull();

    // Checkpoint GC kept exactly what the policy keeps, in the database and on disk.
    for (const e of ended) {
      const all: CheckpointInfo[] = [];
      for (const tr of e.trials) all.push(...(await api<TrialDetail>(url, 'GET', `/trials/${tr.id}`)).body.checkpoints);
      const policy = { save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1, ...(e.config as { checkpoint_storage?: object }).checkpoint_storage };
      const doomed = new Set(checkpointsToDelete(all.map((c) => ({ uuid: c.uuid, trialId: c.trialId, stepsCompleted: c.stepsCompleted, metric: c.validationMetric ?? null })), policy, true));
      const keep = all.filter((c) => !doomed.has(c.uuid)).map((c) => c.uuid).sort();
      await waitFor(`checkpoint GC of experiment ${e.id}`, async () => {
        const now: CheckpointInfo[] = [];
        for (const tr of e.trials) now.push(...(await api<TrialDetail>(url, 'GET', `/trials/${tr.id}`)).body.checkpoints);
        return now.filter((c) => c.state === 'COMPLETED').map((c) => c.uuid).sort().join() === keep.join() || null;
      }, 60_000);
      for (const c of all) expect(fs.existsSync(path.join(dataDir, 'checkpoints', c.uuid)), `checkpoint ${c.uuid} on disk`).toBe(!doomed.has(c.uuid));
    }

    await master.kill();
    for (const a of agents.values()) await a.kill();
    await dropDb?.();
  }, 1_200_000);
});
