// S3 checkpoint storage end to end, against s3rver over real HTTP: a real master and agent (given fake AWS
// credentials in their environment), a trial that checkpoints to the bucket, dies, and restarts from the
// checkpoint it restores from S3; `hone checkpoint download` streams the files through the master; GC after the
// experiment deletes the objects of the checkpoints the policy does not keep.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricPoint, TrialDetail } from '@hone/protocol';
import { archive } from '../helpers/archive';
import { waitForExperimentEnd } from '../helpers/experiments';
import { api, runCli, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';
import { S3RVER_ENV, startFakeS3, type FakeS3 } from '../helpers/s3';

// Checkpoints every 10 steps (a state file and a 300 KiB weights file whose bytes depend on the step). The first
// run, having restored nothing, dies right after its checkpoint at step 20; the restarted run must restore it
// from S3 and go on from step 21.
const TRAIN = `
const enc = new TextEncoder();
const weights = (step) => Uint8Array.from({ length: 300 * 1024 }, (_, i) => (i * 13 + step) % 256);
export default async function train(core) {
  let step = 0;
  let restored = false;
  if (core.checkpoint.latest) {
    const files = await core.checkpoint.restore();
    step = JSON.parse(new TextDecoder().decode(files['state.json'])).step;
    const w = files['weights/w.bin'];
    if (!w || w.length !== 300 * 1024 || w.some((b, i) => b !== (i * 13 + step) % 256)) throw new Error('restored weights are corrupt');
    restored = true;
    core.log('restored from s3 at step ' + step);
  }
  for await (const op of core.searcher.operations()) {
    while (step < op.length) {
      step += 1;
      core.train.reportTrainingMetrics(step, { loss: 1 / step });
      if (step % 10 === 0) {
        await core.checkpoint.store({ 'state.json': enc.encode(JSON.stringify({ step })), 'weights/w.bin': weights(step) }, step);
        if (!restored && step === 20) {
          await core.train.flush();
          console.error('dying after the checkpoint at step 20');
          process.exit(3);
        }
      }
    }
    await core.train.reportValidationMetrics(step, { loss: 1 / step });
    await op.reportCompleted(1 / step);
  }
}
`;

describe('s3 checkpoint storage', () => {
  let s3: FakeS3;
  let master: MasterProc;
  let agent: Proc;
  const dataDir = tmpDir('s3-e2e');

  beforeAll(async () => {
    s3 = await startFakeS3(['hone-e2e']);
    // The master (download, GC) and the agent (which passes them to the harness) get the credentials; the CLI does not.
    master = await startMasterProcess({ dataDir, env: S3RVER_ENV });
    agent = startAgentProcess({ masterUrl: master.url, id: 's3-agent', slots: 1, workDir: path.join(dataDir, 'work'), env: S3RVER_ENV });
    await waitFor('the agent', async () => (await api<any[]>(master.url, 'GET', '/agents')).body.some((a) => a.state === 'CONNECTED'));
  }, 120_000);
  afterAll(async () => {
    await agent?.kill();
    await master?.kill();
    await s3?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('checkpoints to S3, restores after a restart, downloads through the master, and GC deletes the unkept objects', async () => {
    const config = `
name: s3-checkpoints
entrypoint: train.ts
searcher: {name: single, metric: loss, max_length: {batches: 40}}
max_restarts: 1
checkpoint_storage:
  type: s3
  bucket: hone-e2e
  prefix: e2e/ckpts
  endpoint_url: ${s3.endpoint}
  save_trial_latest: 1
  save_trial_best: 0
  save_experiment_best: 0
`;
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config, context: (await archive({ 'train.ts': TRAIN })).toString('base64') });
    expect(created.status).toBe(201);
    const exp = await waitForExperimentEnd(master.url, created.body.id, 240_000);
    const t = exp.trials[0]!;
    const logs = (await api<Array<{ line: string }>>(master.url, 'GET', `/trials/${t.id}/logs`)).body.map((l) => l.line);
    if (exp.state !== 'COMPLETED') console.log(logs.join('\n'));
    expect(exp.state).toBe('COMPLETED');
    expect(t.restarts).toBe(1);
    expect(logs).toContain('dying after the checkpoint at step 20');
    expect(logs.some((l) => l.includes('restored from s3 at step 20'))).toBe(true);

    // The steps continue from the checkpoint: each step once, 1..40, the second run's from 21.
    const points = (await api<{ points: MetricPoint[] }>(master.url, 'GET', `/trials/${t.id}/metrics?group=training&raw=true`)).body.points;
    expect(points.map((p) => p.stepsCompleted)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));

    const detail = (await api<TrialDetail>(master.url, 'GET', `/trials/${t.id}`)).body;
    const bySteps = new Map(detail.checkpoints.map((c) => [c.stepsCompleted, c]));
    expect([...bySteps.keys()].sort((a, b) => a - b)).toEqual([10, 20, 30, 40]);
    const kept = bySteps.get(40)!;
    expect(kept.storage).toMatchObject({ type: 's3', bucket: 'hone-e2e', prefix: 'e2e/ckpts' });

    // GC after the end keeps only the latest checkpoint: the others' objects are gone from the bucket.
    await waitFor('checkpoint GC', async () => {
      const cps = (await api<TrialDetail>(master.url, 'GET', `/trials/${t.id}`)).body.checkpoints;
      return cps.filter((c) => c.state === 'DELETED').length === 3;
    }, 60_000);
    expect(await s3.listKeys('hone-e2e')).toEqual([`e2e/ckpts/${kept.uuid}/state.json`, `e2e/ckpts/${kept.uuid}/weights/w.bin`]);

    // The CLI downloads through the master, with no AWS credentials of its own.
    const out = path.join(dataDir, 'download');
    const noAws = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_REGION: '' };
    const dl = await runCli(['-m', master.url, 'checkpoint', 'download', kept.uuid, '-o', out], noAws);
    expect(dl.stderr).toBe('');
    expect(dl.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'))).toEqual({ step: 40 });
    const w = fs.readFileSync(path.join(out, 'weights/w.bin'));
    expect(w.length).toBe(300 * 1024);
    expect(w.every((b, i) => b === (i * 13 + 40) % 256)).toBe(true);
    // A collected one says so.
    const gone = await runCli(['-m', master.url, 'checkpoint', 'download', bySteps.get(20)!.uuid, '-o', path.join(dataDir, 'gone')], noAws);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/garbage-collected/);
  }, 300_000);
});
