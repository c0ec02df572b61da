// Runs `hone` the way a user does, through cli/bin/hone.js (the bundle when it is current, else the sources),
// for the CLI's end-to-end tests in test/e2e/cli-*.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../test/helpers/processes';

export interface HoneRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Builds the bundle when a source changed since the last build (what `npm test` does first). */
export function buildCli(): void {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'cli/scripts/build.js')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the CLI did not build:\n${r.stdout}${r.stderr}`);
}

/** `hone ...args`; closeStdout closes the reading end of its stdout at once, like `| head` that has read enough. */
export function hone(args: string[], opts: { env?: Record<string, string>; closeStdout?: boolean; cwd?: string } = {}): Promise<HoneRun> {
  // The caller's own master and token never leak in.
  const { HONE_MASTER: _m, HONE_TOKEN: _t, ...env } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'cli/bin/hone.js'), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    if (opts.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
