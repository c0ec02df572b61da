import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TaskLog } from '@hone/protocol/api';
import type { Client } from './client';
import { streamLogs } from './logs';

const line = (id: number, stream: string, text: string): TaskLog => ({
  id, trialId: 1, allocationId: 'a', agentId: 'agent', rank: 0, stream, level: stream === 'stderr' ? 'ERROR' : 'INFO', ts: '2026-01-02T03:04:05.678Z', line: text,
});
const logs = [line(1, 'stdout', 'step 1'), line(2, 'stderr', 'Error: boom'), line(3, 'stdout', 'step 2')];

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out, err };
}

afterEach(() => vi.restoreAllMocks());

describe('trial logs', () => {
  it('prints every line on stdout, whichever stream the trial wrote it to, in order', async () => {
    const { out, err } = capture();
    await streamLogs({ get: async () => logs } as unknown as Client, 1, { follow: false });
    expect(err).toEqual([]);
    expect(out.join('')).toBe('[03:04:05.678] [rank=0] step 1\n[03:04:05.678] [rank=0] Error: boom\n[03:04:05.678] [rank=0] step 2\n');
  });

  it('follows on stdout too, until the trial ends', async () => {
    const { out, err } = capture();
    const answers = [{ body: [line(4, 'stderr', 'late error')], headers: {} }, { body: [], headers: { 'x-trial-state': 'ERROR' } }];
    const client = { get: async () => logs.slice(0, 1), requestWithHeaders: async () => answers.shift() };
    await streamLogs(client as unknown as Client, 1, { follow: true, tail: 1 });
    expect(err).toEqual([]);
    expect(out.join('')).toContain('late error');
  });

  it('--json keeps the stream in each object', async () => {
    const { out } = capture();
    await streamLogs({ get: async () => logs } as unknown as Client, 1, { follow: false, json: true });
    expect(out.join('').trim().split('\n').map((l) => JSON.parse(l).stream)).toEqual(['stdout', 'stderr', 'stdout']);
  });
});
