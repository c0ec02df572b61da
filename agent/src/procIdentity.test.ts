import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isSameProcess, parseStartTime, processStartTime, processStartTimeSync } from './procIdentity';

describe('process identity (pid + start time)', () => {
  it('reads field 22 after the command name, even one holding spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // fields 3.. as their own numbers
    fields[0] = 'S';
    expect(parseStartTime(`1234 (node) ${fields.join(' ')}`)).toBe('22');
    expect(parseStartTime(`1234 (a (b) c) d) ${fields.join(' ')}`)).toBe('22');
    expect(parseStartTime('garbage')).toBeNull();
    expect(parseStartTime('1 (x) S 1 2')).toBeNull();
  });

  it('knows a live process by pid and start time, and not once it exited, nor under another start time', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid!;
    const start = processStartTimeSync(pid);
    expect(start).toMatch(/^\d+$/);
    expect(await processStartTime(pid)).toBe(start);
    expect(await isSameProcess(pid, start!)).toBe(true);
    // The same pid with another start time is another process (a recycled pid).
    expect(await isSameProcess(pid, String(Number(start) + 1))).toBe(false);
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
    expect(await isSameProcess(pid, start!)).toBe(false);
    expect(processStartTimeSync(pid)).toBeNull();
    expect(processStartTimeSync(-1)).toBeNull();
  });

  it('takes an exited but unreaped process (a zombie) for gone', async () => {
    // sh runs sleep 0.1 in the background and then waits on a long sleep without reaping it: a zombie for a while.
    const sh = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(await new Promise<string>((r) => sh.stdout!.once('data', (d) => r(String(d).trim()))));
    const start = processStartTimeSync(pid)!;
    expect(start).toMatch(/^\d+$/);
    await new Promise((r) => setTimeout(r, 400));
    expect(processStartTimeSync(pid)).toBe(start); // still in the process table
    expect(await isSameProcess(pid, start)).toBe(false);
    sh.kill('SIGKILL');
  });
});
