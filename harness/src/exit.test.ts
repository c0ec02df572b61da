// exitAfterFlush in a process whose stdout and stderr are pipes (as a pod's ranks have): everything written before
// the exit arrives, and the process exits with the first code it was given.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const EXIT_MODULE = path.join(import.meta.dirname, 'exit.ts');

function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('exitAfterFlush', () => {
  it('exits only once the output queued on the pipes is out, with the first code given', async () => {
    const { code, stdout, stderr } = await run(`
      const { exitAfterFlush } = await import(${JSON.stringify(EXIT_MODULE)});
      for (let i = 0; i < 2000; i++) console.log('line ' + i + ' ' + 'x'.repeat(200));
      console.error('harness: distributed training failed: rank 1 disconnected');
      exitAfterFlush(1);
      exitAfterFlush(0);
    `);
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2000);
    expect(lines.at(-1)).toBe(`line 1999 ${'x'.repeat(200)}`);
    expect(stderr).toBe('harness: distributed training failed: rank 1 disconnected\n');
    expect(code).toBe(1);
  }, 30_000);
});
