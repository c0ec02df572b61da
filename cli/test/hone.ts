// Runs `hone` the way a user does, through cli/bin/hone.js (the bundle when it is current, else the sources),
// for the CLI's end-to-end tests in test/e2e/cli-*.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, tmpDir } from '../../test/helpers/processes';

/**
 * The auth file every `hone` of this test file uses unless told otherwise: a fresh one, so that a test never reads
 * or writes the real ~/.hone/auth.json, and `hone user login` in one test signs in the commands of the next.
 */
export const testAuthFile = path.join(tmpDir('cli-auth'), 'auth.json');

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

/**
 * `hone ...args`; closeStdout closes the reading end of its stdout at once, like `| head` that has read enough;
 * input is written to its stdin (for --password-stdin), which is otherwise empty.
 */
export function hone(args: string[], opts: { env?: Record<string, string>; closeStdout?: boolean; cwd?: string; input?: string } = {}): Promise<HoneRun> {
  // The caller's own master, token, CA and auth file never leak in.
  const { HONE_MASTER: _m, HONE_TOKEN: _t, HONE_CA: _c, HONE_AUTH_FILE: _a, ...env } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'cli/bin/hone.js'), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...env, HONE_AUTH_FILE: testAuthFile, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // A command that never reads its stdin may exit before the input is written.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    let stdout = '';
    let stderr = '';
    if (opts.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
