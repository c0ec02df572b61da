// The harness as the agent runs it: a child process in the model directory, talking HTTP to a (fake) master.
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExperimentConfig } from '@hone/protocol';
import { MemoryMaster } from './core/memoryMaster';
import { serveMemoryMaster, type FakeMasterServer } from './core/httpFake';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const mainTs = path.join(repo, 'harness/src/main.ts');

function runHarness(server: FakeMasterServer, master: MemoryMaster, cwd: string, extraEnv: Record<string, string> = {}, onStdout?: (line: string, kill: (sig: NodeJS.Signals) => void) => void) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', mainTs], {
      cwd,
      env: {
        ...process.env,
        HONE_MASTER_URL: server.url,
        HONE_TASK_TOKEN: 'test-token',
        HONE_ALLOCATION_ID: master.allocationId,
        HONE_TRIAL_ID: String(master.trialId),
        HONE_EXPERIMENT_ID: String(master.experimentId),
        HONE_RANK: '0',
        HONE_WORLD_SIZE: '1',
        HONE_LOCAL_RANK: '0',
        HONE_SEARCHER_WAIT_S: '0',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onStdout?.(buf.slice(0, i), (sig) => child.kill(sig));
        buf = buf.slice(i + 1);
      }
    });
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

const synthetic = path.join(repo, 'examples/synthetic');
const hp = { global_batch_size: 32, learning_rate: 0.01, hidden_units: 8 };

let server: FakeMasterServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('harness main (child process over HTTP)', { timeout: 120_000 }, () => {
  it('runs the synthetic example to completion with master checkpoint storage, surviving a restarting master', async () => {
    const config = parseExperimentConfig({
      entrypoint: 'model.ts:createTrial',
      searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 30 } },
      hyperparameters: hp,
    });
    const master = new MemoryMaster({ config, hparams: hp, ops: [15, 30] });
    server = await serveMemoryMaster(master);
    server.failNext(2);
    // As the agent does it: the model directory extracted elsewhere, node_modules linked to the repo's.
    const modelDir = await mkdtemp(path.join(os.tmpdir(), 'hone-model-'));
    await cp(synthetic, modelDir, { recursive: true });
    await symlink(path.join(repo, 'node_modules'), path.join(modelDir, 'node_modules'), 'dir');
    const { code, out } = await runHarness(server, master, modelDir);
    expect(out).toContain('backend: wasm');
    expect(code, out).toBe(0);
    expect(master.completed.map((c) => c.length)).toEqual([15, 30]);
    expect(master.checkpoints.map((c) => c.stepsCompleted)).toEqual([15, 30]);
    expect(Object.keys(master.checkpoints[0]!.resources).sort()).toEqual(['manifest.json', 'model.json', 'weights.bin']);
    expect(out).toMatch(/validation: steps 30 validation_loss=/);
  });

  it('stops on SIGTERM after a checkpoint (shared_fs storage) and exits 0; a new allocation resumes there', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hone-ckpt-'));
    const config = parseExperimentConfig({
      entrypoint: 'model.ts:createTrial',
      searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 100000 } },
      hyperparameters: hp,
      checkpoint_storage: { type: 'shared_fs', host_path: dir },
    });
    const master = new MemoryMaster({ config, hparams: hp, ops: [100000] });
    server = await serveMemoryMaster(master);
    let signalled = false;
    const { code, out } = await runHarness(server, master, synthetic, {}, (line, kill) => {
      if (!signalled && line.startsWith('training: steps')) {
        signalled = true;
        kill('SIGTERM');
      }
    });
    expect(code, out).toBe(0);
    expect(out).toContain('preempted at');
    const ck = master.checkpoints.at(-1)!;
    expect(ck.stepsCompleted).toBeGreaterThan(0);
    expect((await readdir(path.join(dir, ck.uuid))).sort()).toEqual(['manifest.json', 'model.json', 'weights.bin']);

    master.ops = [];
    master.currentOp = ck.stepsCompleted + 5;
    master.newAllocation();
    const second = await runHarness(server, master, synthetic);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toContain(`resuming at ${ck.stepsCompleted} batches`);
    expect(master.completed.at(-1)!.length).toBe(ck.stepsCompleted + 5);
  });

  it('exits non-zero with a clear message when the entrypoint is wrong', async () => {
    const config = parseExperimentConfig({
      entrypoint: 'model.ts:noSuchExport',
      searcher: { name: 'single', metric: 'validation_loss', max_length: { batches: 5 } },
      hyperparameters: hp,
    });
    const master = new MemoryMaster({ config, hparams: hp, ops: [5] });
    server = await serveMemoryMaster(master);
    const { code, out } = await runHarness(server, master, synthetic);
    expect(code).not.toBe(0);
    expect(out).toContain('has no exported function "noSuchExport"');
  });
});
