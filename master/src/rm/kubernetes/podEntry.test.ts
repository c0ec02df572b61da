// podEntry.ts as a pod runs it, with a stand-in harness (HONE_ROOT/harness/src/main.ts) for its two ranks: one rank
// fails; the other, busy at that moment, notices a little later and exits after writing its last lines. The pod
// must pass on all of them and exit with the first failing rank's code.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../../../..');

// Rank 1 fails at once. Rank 0 is busy when it does (it waits for rank 1's exit, then 200 ms more, as a rank in a
// long step would), then writes 100 KB and its reason, and exits 1 once they are out, as the harness does on a
// ring failure (harness/src/exit.ts).
const FAKE_HARNESS = `
import fs from 'node:fs';
const rank = Number(process.env.HONE_RANK);
const gone = process.env.RANK1_GONE;
if (rank === 1) {
  console.error('rank 1: failing');
  fs.writeFileSync(gone, '');
  process.exit(3);
}
while (!fs.existsSync(gone)) await new Promise((r) => setTimeout(r, 10));
const until = Date.now() + 200;
while (Date.now() < until) {}
for (let i = 0; i < 1000; i++) console.log(\`output \${i} \${'x'.repeat(100)}\`);
console.error('harness: distributed training failed: rank 1 disconnected');
let pending = 2;
const done = () => --pending === 0 && process.exit(1);
process.stdout.write('', done);
process.stderr.write('', done);
`;

describe('the pod entry', () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-pod-'));
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'harness/src'), { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), '{"type":"module"}\n');
    fs.writeFileSync(path.join(root, 'harness/src/main.ts'), FAKE_HARNESS);
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    // The master's context endpoint for an experiment without a model directory.
    server = http.createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/context`;
  });
  afterAll(() => {
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes on every line of a rank that exits just after its peer failed, and exits with the failed rank\'s code', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'master/src/rm/kubernetes/podEntry.ts'], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '',
        HONE_ROOT: path.join(dir, 'root'),
        HONE_WORK_DIR: path.join(dir, 'work'),
        HONE_ALLOCATION_ID: 'a1',
        HONE_CONTEXT_URL: url,
        HONE_TASK_TOKEN: 'token',
        HONE_SLOTS_PER_POD: '2',
        JOB_COMPLETION_INDEX: '0',
        RANK1_GONE: path.join(dir, 'rank1-gone'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(stderr).toContain('[rank 1] rank 1: failing\n');
    expect(stderr).toContain('[rank 0] harness: distributed training failed: rank 1 disconnected\n');
    const lines = stdout.split('\n').filter((l) => l.startsWith('[rank 0] output '));
    expect(lines).toHaveLength(1000);
    expect(lines.at(-1)).toBe(`[rank 0] output 999 ${'x'.repeat(100)}`);
    expect(code).toBe(3);
  }, 60_000);
});
