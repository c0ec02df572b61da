// What a trial's pod runs (the container command of the Job, jobSpec.ts): fetches the model directory from the
// master with the allocation's task token, unpacks it under the agent's limits, then starts this pod's ranks —
// one harness process per slot, ranks index*slotsPerPod ... — and exits with the first failing rank's code
// (0 when all exit 0), once every rank's output has been read to its end and written out. SIGTERM (pod deletion,
// preemption by Kubernetes) is passed to the ranks, which checkpoint.
// Runs inside the image: `node --import tsx <hone_root>/master/src/rm/kubernetes/podEntry.ts`.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_EXTRACT_LIMITS, extractModelArchive } from '../../../../agent/src/extract';
import { exitAfterFlush } from '../../../../harness/src/exit';
import { RANK_FAILURE_GRACE_MS } from '../lifecycle';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (the Job sets it)`);
  return v;
}

async function prepare(dir: string, root: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  const url = need('HONE_CONTEXT_URL');
  let res: Response | null = null;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(url, { headers: { authorization: `Bearer ${need('HONE_TASK_TOKEN')}` } });
      if (res.status < 500) break;
    } catch (e) {
      if (attempt >= 10) throw e;
    }
    if (attempt >= 10) break;
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
  }
  if (res!.status === 200 && res!.body) {
    await extractModelArchive(Readable.fromWeb(res!.body as never), dir, DEFAULT_EXTRACT_LIMITS);
  } else if (res!.status !== 204) {
    throw new Error(`GET ${url} answered ${res!.status}: ${await res!.text()}`);
  }
  // User code imports @tensorflow/tfjs and @hone/harness from the image's installation (as on an agent).
  await fs.promises.symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir').catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  await fs.promises.writeFile(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n', { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
}

async function main(): Promise<number> {
  const root = process.env.HONE_ROOT || process.cwd();
  const index = Number(process.env.JOB_COMPLETION_INDEX ?? '0');
  const perPod = Math.max(1, Number(process.env.HONE_SLOTS_PER_POD ?? '1'));
  const dir = path.join(process.env.HONE_WORK_DIR || os.tmpdir(), `hone-${need('HONE_ALLOCATION_ID')}-${index}`);
  await prepare(dir, root);
  const children: ChildProcess[] = [];
  const exits: Array<Promise<number>> = [];
  for (let i = 0; i < perPod; i++) {
    const rank = index * perPod + i;
    const env: Record<string, string> = { ...(process.env as Record<string, string>), HONE_RANK: String(rank), HONE_LOCAL_RANK: String(i) };
    // The device plugin gives the container its GPUs as 0..n-1; each rank takes one.
    if (perPod > 1 || process.env.CUDA_VISIBLE_DEVICES === undefined) env.CUDA_VISIBLE_DEVICES = String(i);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'harness/src/main.ts')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    // One pod's log holds all its ranks: each line says whose it is when there are several.
    const prefix = perPod > 1 ? `[rank ${rank}] ` : '';
    for (const [s, out] of [[child.stdout!, process.stdout], [child.stderr!, process.stderr]] as const) {
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) out.write(`${prefix}${l}\n`);
      });
      s.on('end', () => buf && out.write(`${prefix}${buf}\n`));
    }
    // 'close', not 'exit': the rank's last lines may still be in the pipes when it has exited.
    exits.push(new Promise((r) => child.on('close', (code, sig) => r(code ?? (sig ? 128 + (os.constants.signals[sig] ?? 9) : 1)))));
  }
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => children.forEach((c) => c.kill(sig)));
  // A failed rank stops the others (they cannot make progress without it): they learn it from the ring and exit
  // on their own, saying why; those still running after the master's rank-failure grace are killed (lifecycle.ts:
  // killed at once, a rank busy at that moment would lose its last lines).
  let first = 0;
  let killer: NodeJS.Timeout | null = null;
  exits.forEach((p) =>
    p.then((c) => {
      if (c !== 0 && first === 0) {
        first = c;
        killer = setTimeout(() => children.forEach((x) => x.exitCode === null && x.signalCode === null && x.kill('SIGKILL')), RANK_FAILURE_GRACE_MS);
      }
    }),
  );
  await Promise.all(exits);
  if (killer) clearTimeout(killer);
  await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  return first;
}

main().then(
  // stdout and stderr are pipes in a container: exit once what was written is out.
  (code) => exitAfterFlush(code),
  (e: unknown) => {
    console.error(`hone pod: failed: ${(e as Error)?.stack ?? String(e)}`);
    exitAfterFlush(1);
  },
);
