// The harness process: `node --import tsx <repo>/harness/src/main.ts` (or the built `harness/dist/harness.mjs`),
// started by the agent in the model directory.
// Exit 0: no more work, paused, closed, or preempted after a checkpoint. Non-zero: the trial failed.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createCoreContext } from './core/context';
import { connectDistributed } from './distributed/connect';
import { ringKey } from './distributed/ringAuth';
import { requireSameBackend } from './distributed/sameBackend';
import { HttpMasterClient } from './core/masterClient';
import { selectBackend } from './backend';
import { loadEntrypoint } from './entrypoint';
import { runTrial } from './trial/controller';
import { ensureTypeScriptLoader } from './tsLoader';
import { exitAfterFlush, isExiting } from './exit';

/** Set (to true) by the bundle build (harness/scripts/build.mjs): the bundle's own entry decides what runs. */
declare const __HONE_BUNDLED__: boolean | undefined;

function env(name: string, required = true): string | undefined {
  const v = process.env[name];
  if (required && (v === undefined || v === '')) throw new Error(`environment variable ${name} is not set (the agent sets it when it starts a trial)`);
  return v;
}

function intEnv(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`environment variable ${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/** The harness package's version (for the reproducibility record). */
function harnessVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function main(): Promise<number> {
  const log = (line: string) => console.log(line);
  const masterUrl = env('HONE_MASTER_URL')!;
  const token = env('HONE_TASK_TOKEN')!;
  const allocationId = env('HONE_ALLOCATION_ID')!;
  const rank = intEnv('HONE_RANK', 0);
  const worldSize = Math.max(1, intEnv('HONE_WORLD_SIZE', 1));
  const localRank = intEnv('HONE_LOCAL_RANK', rank);

  const client = new HttpMasterClient({ baseUrl: masterUrl, token, log: (l) => console.error(l) });
  const info = await client.getAllocationInfo(allocationId, rank);
  const spec = process.env.HONE_ENTRYPOINT || info.config.entrypoint;
  log(
    `harness: trial ${info.trialId} (experiment ${info.experimentId}) allocation ${allocationId} rank ${rank}/${worldSize}` +
      `${process.env.CUDA_VISIBLE_DEVICES ? ` devices ${process.env.CUDA_VISIBLE_DEVICES}` : ''} entrypoint ${spec}`,
  );
  const backend = await selectBackend(process.env.HONE_TF_BACKEND, log);
  await ensureTypeScriptLoader();
  const entry = await loadEntrypoint(spec, process.cwd());

  const distributed = await connectDistributed({
    client,
    allocationId,
    rank,
    size: worldSize,
    localRank,
    host: process.env.HONE_RING_HOST || undefined,
    // Ranks of this allocation, and nobody else, hold its task token: it keys the ring handshake.
    key: ringKey(token),
    onFailure: (e) => {
      console.error(`harness: distributed training failed: ${e.message}`);
      exitAfterFlush(1);
    },
  });
  await requireSameBackend(distributed, backend.name);
  if (rank === 0) {
    // The reproducibility record: the master has the rest (digest, config, seed, devices); a failure to report
    // it must not stop training.
    await client
      .reportReproducibility(info.trialId, { harnessVersion: harnessVersion(), tfjsVersion: tf.version.tfjs, backend: backend.name, nodeVersion: process.version })
      .catch((e: Error) => log(`harness: could not report the reproducibility record: ${e.message}`));
  }
  const core = createCoreContext({ client, info, distributed, log, searcherWaitS: intEnv('HONE_SEARCHER_WAIT_S', 10) });

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      console.error(`harness: second ${sig}; exiting now`);
      exitAfterFlush(sig === 'SIGINT' ? 130 : 143);
      return;
    }
    core.preempt(`${sig} received`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    if (entry.kind === 'trial') {
      const outcome = await runTrial(core, entry.factory);
      log(`harness: ${outcome === 'preempted' ? 'stopped after checkpoint (preempted)' : 'no more work'}; exiting`);
    } else {
      await entry.run(core);
      log('harness: core entrypoint returned; exiting');
    }
  } finally {
    // A pre-warmed harness may run another trial in this process (warm.ts): leave nothing of this one behind.
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await core.close();
    await distributed.close().catch(() => undefined);
  }
  return 0;
}

function isEntryModule(): boolean {
  try {
    return !!process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}
/** Runs the harness as this process: exits with its code, or 1 with the error's stack. */
export function runAsProcess(): void {
  main().then(
    (code) => exitAfterFlush(code),
    (e: unknown) => {
      // Already exiting (a ring failure, said above): what fails after it is a consequence.
      if (isExiting()) return;
      const err = e as Error;
      console.error(`harness: failed: ${err?.stack ?? String(e)}`);
      exitAfterFlush(1);
    },
  );
}

if (typeof __HONE_BUNDLED__ === 'undefined' && isEntryModule()) runAsProcess();
