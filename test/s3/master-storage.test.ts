// The master's side of checkpoint storage against s3rver over real HTTP: removeCheckpointFiles for every storage
// type (files already gone count as deleted), and the tar stream `hone checkpoint download` receives for s3.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpointObjects, tarCheckpointObjects } from '../../master/src/checkpoints/s3';
import { removeCheckpointFiles } from '../../master/src/checkpoints/storage';
import { tmpDir } from '../helpers/processes';
import { S3RVER_ENV, startFakeS3, type FakeS3 } from '../helpers/s3';

const gc = { save_experiment_best: 0, save_trial_best: 1, save_trial_latest: 1 };

describe('master checkpoint storage', () => {
  let s3: FakeS3;
  const saved = { ...process.env };
  const dirs: string[] = [];
  beforeAll(async () => {
    s3 = await startFakeS3(['ckpts']);
    // The master's credentials come from its environment (the SDK's default chain).
    Object.assign(process.env, S3RVER_ENV);
  });
  afterAll(async () => {
    process.env = saved;
    await s3?.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const put = (key: string, body: string | Uint8Array) => s3.client.send(new PutObjectCommand({ Bucket: 'ckpts', Key: key, Body: body }));

  it('deletes an s3 checkpoint\'s objects and nothing else; deleting again, or one never written, succeeds', async () => {
    const storage = { type: 's3', bucket: 'ckpts', prefix: 'gc', endpoint_url: s3.endpoint, ...gc };
    const [a, b] = [randomUUID(), randomUUID()];
    for (const f of ['state.json', 'weights/w0.bin', 'weights/w1.bin']) await put(`gc/${a}/${f}`, 'x');
    await put(`gc/${b}/state.json`, 'y');
    // A key that merely starts with the uuid is another object, not a file of the checkpoint.
    await put(`gc/${a}-not-a-file`, 'z');
    await removeCheckpointFiles('/unused', storage, a);
    expect((await s3.listKeys('ckpts', 'gc/')).sort()).toEqual([`gc/${a}-not-a-file`, `gc/${b}/state.json`].sort());
    await removeCheckpointFiles('/unused', storage, a);
    await removeCheckpointFiles('/unused', storage, randomUUID());
    expect((await s3.listKeys('ckpts', 'gc/')).sort()).toEqual([`gc/${a}-not-a-file`, `gc/${b}/state.json`].sort());
  });

  it('deletes without a prefix', async () => {
    const uuid = randomUUID();
    await put(`${uuid}/a`, '1');
    await removeCheckpointFiles('/unused', { type: 's3', bucket: 'ckpts', endpoint_url: s3.endpoint }, uuid);
    expect(await s3.listKeys('ckpts', uuid)).toEqual([]);
  });

  it('throws when the bucket cannot be used, so the checkpoint is kept for a later try', async () => {
    await expect(removeCheckpointFiles('/unused', { type: 's3', bucket: 'no-such-bucket', endpoint_url: s3.endpoint }, randomUUID())).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/^checkpoint storage s3:\/\/no-such-bucket: listing .* failed: NoSuchBucket/),
    });
  });

  it('removes master-hosted and shared_fs directories; missing ones are fine', async () => {
    const dataDir = tmpDir('ckpt-master');
    const shared = tmpDir('ckpt-shared');
    dirs.push(dataDir, shared);
    const [m, s] = [randomUUID(), randomUUID()];
    fs.mkdirSync(path.join(dataDir, m, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, m, 'sub', 'f'), 'x');
    fs.mkdirSync(path.join(shared, 'store', s), { recursive: true });
    fs.writeFileSync(path.join(shared, 'store', s, 'f'), 'x');
    fs.mkdirSync(path.join(shared, 'store', 'keep'));
    await removeCheckpointFiles(dataDir, { type: 'master', ...gc }, m);
    await removeCheckpointFiles(dataDir, { type: 'shared_fs', host_path: shared, storage_path: 'store', ...gc }, s);
    expect(fs.readdirSync(dataDir)).toEqual([]);
    expect(fs.readdirSync(path.join(shared, 'store'))).toEqual(['keep']);
    await removeCheckpointFiles(dataDir, { type: 'master', ...gc }, m);
    await removeCheckpointFiles(dataDir, { type: 'shared_fs', host_path: shared, storage_path: 'store', ...gc }, s);
  });

  it('refuses an unknown storage and a uuid that is not one', async () => {
    await expect(removeCheckpointFiles('/tmp', { type: 'gcs' }, randomUUID())).rejects.toThrow('checkpoint storage "gcs" is not one the master can delete from');
    await expect(removeCheckpointFiles('/tmp', { type: 'master', ...gc }, '..')).rejects.toThrow(/is not a checkpoint UUID/);
  });

  it('streams an s3 checkpoint as a tar.gz with every file intact', async () => {
    const loc = { bucket: 'ckpts', prefix: 'dl', endpoint_url: s3.endpoint };
    const uuid = randomUUID();
    const long = `${'deep/'.repeat(30)}weights.bin`;
    const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 7) % 256);
    const files: Record<string, Uint8Array> = { 'state.json': new TextEncoder().encode('{"step":40}'), [long]: big, empty: new Uint8Array() };
    for (const [f, d] of Object.entries(files)) await put(`dl/${uuid}/${f}`, d);
    expect(Object.fromEntries(await listCheckpointObjects(loc, uuid))).toEqual({ 'state.json': 11, [long]: big.length, empty: 0 });
    const out = tmpDir('ckpt-dl');
    dirs.push(out);
    await pipeline(tarCheckpointObjects(loc, uuid, Object.keys(files)), tar.x({ cwd: out }));
    for (const [f, d] of Object.entries(files)) expect(Buffer.from(fs.readFileSync(path.join(out, f))).equals(Buffer.from(d))).toBe(true);
  });

  it('ends the stream with an error when an object vanishes midway', async () => {
    const loc = { bucket: 'ckpts', prefix: 'dl2', endpoint_url: s3.endpoint };
    const uuid = randomUUID();
    await put(`dl2/${uuid}/a`, 'a');
    const out = tmpDir('ckpt-dl2');
    dirs.push(out);
    await expect(pipeline(tarCheckpointObjects(loc, uuid, ['a', 'gone']), tar.x({ cwd: out }))).rejects.toThrow(/checkpoint storage s3:\/\/ckpts: reading dl2\/.* failed: NoSuchKey/);
  });
});
