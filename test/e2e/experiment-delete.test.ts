// Deleting an experiment end to end (real master, agent and trial, on PostgreSQL when there is one): refused
// with the state named while it has not ended; DELETE_FAILED with the reason while a checkpoint's files cannot
// be deleted (its rows stay); after the storage is mended, deleting again removes the files, then every row.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '@hone/protocol';
import { packContext } from '../../cli/src/context';
import { waitForExperimentEnd } from '../helpers/experiments';
import { api, runCli, startAgentProcess, startMasterProcess, tmpDir, waitFor, type Proc } from '../helpers/processes';
import { freshDatabase, postgresAvailable } from '../helpers/services';

const hasPostgres = await postgresAvailable();

describe('hone experiment delete', () => {
  const procs: Proc[] = [];
  let drop: () => Promise<void> = async () => undefined;
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await drop();
  });

  it('deletes files, then rows; a failure is DELETE_FAILED with the reason, and deleting again retries', async () => {
    const dataDir = tmpDir('delete');
    const fresh = hasPostgres ? await freshDatabase('hone_delete') : null;
    if (fresh) drop = fresh.drop;
    const master = await startMasterProcess({ dataDir, ...(fresh ? { dbUrl: fresh.url } : {}), env: { HONE_JOB_RETRY_BASE_MS: '200' } });
    procs.push(master);
    const m = master.url;
    procs.push(startAgentProcess({ masterUrl: m, id: 'agent-delete', slots: 1, workDir: path.join(dataDir, 'work') }));

    const store = path.join(dataDir, 'store');
    // Trials run as an unprivileged user: the store must be theirs to write.
    fs.chmodSync(dataDir, 0o755);
    fs.mkdirSync(store, { mode: 0o777 });
    fs.chmodSync(store, 0o777);
    // Two trials; GC keeps only the experiment's best checkpoint.
    const config = `name: delete-me
entrypoint: train.ts
hyperparameters:
  learning_rate: {type: double, minval: 0.02, maxval: 0.3}
searcher: {name: random, metric: validation_loss, smaller_is_better: true, max_trials: 2, max_length: {batches: 40}}
checkpoint_storage: {type: shared_fs, host_path: ${store}, save_experiment_best: 1, save_trial_best: 0, save_trial_latest: 0}
`;
    const { data } = await packContext('examples/core', 96 << 20);
    const created = await api<{ id: number }>(m, 'POST', '/experiments', { config, context: data.toString('base64') });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;

    // Not ended: refused, naming the state.
    const paused = await api<{ id: number }>(m, 'POST', '/experiments', { config, activate: false });
    const refused = await api(m, 'DELETE', `/experiments/${paused.body.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(`experiment ${paused.body.id} is PAUSED`);
    const refusedCli = await runCli(['-m', m, 'experiment', 'delete', String(paused.body.id), '--yes']);
    expect(refusedCli.code).not.toBe(0);
    expect(refusedCli.stderr).toContain('is PAUSED');

    const done = await waitForExperimentEnd(m, id, 240_000);
    expect(done.state, JSON.stringify(done.trials.map((t) => t.failure))).toBe('COMPLETED');
    const trialIds = done.trials.map((t) => t.id);
    // Checkpoint GC ran as a job when the experiment completed: only the latest checkpoint is kept, on disk and in
    // the database (the files of the others are gone, their rows DELETED).
    const kept = await waitFor('checkpoint GC', async () => {
      const all = [];
      for (const t of trialIds) all.push(...(await api<{ checkpoints: Array<{ uuid: string; state: string; trialId: number }> }>(m, 'GET', `/trials/${t}`)).body.checkpoints);
      const live = all.filter((c) => c.state === 'COMPLETED');
      return all.length === 2 && live.length === 1 && fs.readdirSync(store).length === 1 ? live[0] : null;
    }, 30_000);
    const best = [...done.trials].sort((a, b) => (a.bestValidation ?? Infinity) - (b.bestValidation ?? Infinity))[0]!;
    expect(kept.trialId).toBe(best.id);
    const files = fs.readdirSync(store);
    expect(files).toEqual([kept.uuid]);

    // Break the storage: a file where its directory was. No checkpoint under it can be deleted (not even by root).
    fs.renameSync(store, `${store}.away`);
    fs.writeFileSync(store, 'not a directory');
    const failed = await runCli(['-m', m, 'experiment', 'delete', String(id), '--yes', '--wait']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`Deleting experiment ${id} failed: could not delete the files of \\d+ checkpoint\\(s\\): checkpoint [0-9a-f-]+: ENOTDIR`));
    const d = await api<ExperimentDetail>(m, 'GET', `/experiments/${id}`);
    expect(d.body.state).toBe('DELETE_FAILED');
    expect(d.body.deleteError).toMatch(/ENOTDIR/);
    // Nothing was deleted: the rows stay while their files do.
    expect(d.body.trials.map((t) => t.id)).toEqual(trialIds);
    const described = await runCli(['-m', m, 'experiment', 'describe', String(id)]);
    expect(described.stdout).toMatch(/State:\s+DELETE_FAILED/);
    expect(described.stdout).toMatch(/Deletion failed: .*ENOTDIR.*hone experiment delete/);
    const listed = await runCli(['-m', m, 'experiment', 'list', '--state', 'DELETE_FAILED']);
    expect(listed.stdout).toMatch(new RegExp(`│ ${id}\\s+│ delete-me .*DELETE_FAILED`));

    // Mend it and delete again: the files go, then the experiment and all its rows.
    fs.rmSync(store);
    fs.renameSync(`${store}.away`, store);
    expect(fs.readdirSync(store)).toEqual(files);
    const ok = await runCli(['-m', m, 'experiment', 'delete', String(id), '--yes', '--wait']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`Deleted experiment ${id}`);
    expect(fs.readdirSync(store)).toEqual([]);
    expect((await api(m, 'GET', `/experiments/${id}`)).status).toBe(404);
    for (const t of trialIds) expect((await api(m, 'GET', `/trials/${t}`)).status).toBe(404);
    // The other experiment is untouched.
    expect((await api(m, 'GET', `/experiments/${paused.body.id}`)).body.state).toBe('PAUSED');

    if (fresh) {
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      try {
        const counts = await c.query(
          `SELECT (SELECT count(*) FROM trials WHERE experiment_id = $1)::int AS trials,
                  (SELECT count(*) FROM metrics WHERE trial_id = ANY($2))::int AS metrics,
                  (SELECT count(*) FROM task_logs WHERE trial_id = ANY($2))::int AS logs,
                  (SELECT count(*) FROM checkpoints WHERE experiment_id = $1)::int AS checkpoints,
                  (SELECT count(*) FROM allocations WHERE experiment_id = $1)::int AS allocations,
                  (SELECT count(*) FROM experiment_contexts WHERE experiment_id = $1)::int AS contexts,
                  (SELECT count(*) FROM jobs WHERE state = 'PENDING')::int AS pending_jobs`,
          [id, trialIds],
        );
        expect(counts.rows[0]).toEqual({ trials: 0, metrics: 0, logs: 0, checkpoints: 0, allocations: 0, contexts: 0, pending_jobs: 0 });
      } finally {
        await c.end();
      }
    }
  }, 400_000);
});
