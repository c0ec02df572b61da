// The harness's S3 checkpoint storage against s3rver over real HTTP, with the real AWS SDK and its default
// credential chain (the fake credentials come from the environment, as the agent passes them).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointStorage } from '../../harness/src/core/checkpointStorage';
import type { MasterClient } from '../../harness/src/core/masterClient';
import { MIN_PART_SIZE, s3CheckpointStorage, s3ClientFor } from '../../harness/src/core/s3Storage';
import { S3RVER_ENV, startFakeS3, type FakeS3 } from '../helpers/s3';

describe('harness S3 checkpoint storage', () => {
  let s3: FakeS3;
  const saved = { ...process.env };
  beforeAll(async () => {
    s3 = await startFakeS3(['ckpts']);
    Object.assign(process.env, S3RVER_ENV);
  });
  afterAll(async () => {
    process.env = saved;
    await s3?.close();
  });
  // The master is never asked for S3 checkpoints: a client that fails if used.
  const noMaster = new Proxy({}, { get: () => () => Promise.reject(new Error('the master was asked')) }) as MasterClient;

  it('writes each file as <prefix>/<uuid>/<relpath> and reads them back', async () => {
    const cfg = { type: 's3', bucket: 'ckpts', prefix: 'team/exp', endpoint_url: s3.endpoint };
    const storage = checkpointStorage(cfg, noMaster);
    const uuid = randomUUID();
    const files = { 'state.json': new TextEncoder().encode('{"step":20}'), 'weights/layer0.bin': new Uint8Array([1, 2, 3, 250]), 'empty': new Uint8Array() };
    expect(await storage.write(uuid, files)).toEqual({ 'state.json': 11, 'weights/layer0.bin': 4, empty: 0 });
    expect(await s3.listKeys('ckpts')).toEqual([`team/exp/${uuid}/empty`, `team/exp/${uuid}/state.json`, `team/exp/${uuid}/weights/layer0.bin`]);
    // A fresh storage (as after a trial restart, in a new harness process) reads the same files.
    const again = checkpointStorage({ ...cfg }, noMaster);
    expect(await again.read(uuid, ['state.json', 'weights/layer0.bin', 'empty'])).toEqual(files);
  });

  it('writes without a prefix at <uuid>/<relpath>', async () => {
    const uuid = randomUUID();
    await checkpointStorage({ type: 's3', bucket: 'ckpts', endpoint_url: s3.endpoint }, noMaster).write(uuid, { a: new Uint8Array([7]) });
    expect(await s3.listKeys('ckpts', uuid)).toEqual([`${uuid}/a`]);
  });

  it('uploads a file larger than a part in parts, and reads it back intact', async () => {
    const cfg = { bucket: 'ckpts', prefix: 'big', endpoint_url: s3.endpoint };
    const client = s3ClientFor(cfg);
    const sent: string[] = [];
    client.middlewareStack.add((next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    }, { step: 'initialize', name: 'recordCommands' });
    const storage = s3CheckpointStorage(cfg, { client, partSize: MIN_PART_SIZE, queueSize: 1 });
    const big = new Uint8Array(MIN_PART_SIZE + 1_000_003);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 12)) % 256;
    const uuid = randomUUID();
    expect(await storage.write(uuid, { 'model.bin': big, 'small.txt': new Uint8Array([1]) })).toEqual({ 'model.bin': big.length, 'small.txt': 1 });
    expect(sent.filter((c) => c === 'UploadPartCommand')).toHaveLength(2);
    expect(sent).toContain('CreateMultipartUploadCommand');
    expect(sent).toContain('CompleteMultipartUploadCommand');
    // The small file went up in one PutObject.
    expect(sent.filter((c) => c === 'PutObjectCommand')).toHaveLength(1);
    const back = await storage.read(uuid, ['model.bin']);
    expect(back['model.bin']!.length).toBe(big.length);
    expect(Buffer.from(back['model.bin']!).equals(Buffer.from(big))).toBe(true);
  });

  it('says which object is missing, and refuses paths that escape the checkpoint', async () => {
    const storage = checkpointStorage({ type: 's3', bucket: 'ckpts', prefix: 'p', endpoint_url: s3.endpoint }, noMaster);
    const uuid = randomUUID();
    await expect(storage.read(uuid, ['nope.bin'])).rejects.toThrow(`checkpoint download of s3://ckpts/p/${uuid}/nope.bin failed: no such object`);
    await expect(storage.write(uuid, { '../escape': new Uint8Array([1]) })).rejects.toThrow(/escapes the checkpoint/);
  });

  it('takes the region from the config, then AWS_REGION / AWS_DEFAULT_REGION; endpoint_url means path-style', async () => {
    const region = (cfg: Parameters<typeof s3ClientFor>[0], env: NodeJS.ProcessEnv) => s3ClientFor(cfg, env).config.region();
    expect(await region({ bucket: 'b', region: 'eu-west-3' }, { AWS_REGION: 'us-west-2' })).toBe('eu-west-3');
    expect(await region({ bucket: 'b' }, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('us-west-2');
    expect(await region({ bucket: 'b' }, { AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('ap-south-1');
    expect(await region({ bucket: 'b', endpoint_url: 'http://minio:9000' }, {})).toBe('us-east-1');
    expect(s3ClientFor({ bucket: 'b', endpoint_url: 'http://minio:9000' }, {}).config.forcePathStyle).toBe(true);
    expect(s3ClientFor({ bucket: 'b', region: 'eu-west-3' }, {}).config.forcePathStyle).toBe(false);
  });

  it('fails a write to a bucket that does not exist, naming it', async () => {
    const storage = checkpointStorage({ type: 's3', bucket: 'no-such-bucket', endpoint_url: s3.endpoint }, noMaster);
    await expect(storage.write(randomUUID(), { a: new Uint8Array([1]) })).rejects.toThrow(/checkpoint upload to s3:\/\/no-such-bucket\/.* failed/);
  });
});
