import { expect, it } from 'vitest';
import { insertLogs, lastErrorLine, logsAfter, tailLogs, type NewLogLine } from '../../master/src/db/logs';
import { describeBoth } from './both';
import { addExperimentWithTrial, addTrial } from './fixtures';

const line = (text: string, over: Partial<NewLogLine> = {}): NewLogLine => ({
  allocationId: 'alloc-1', agentId: 'agent-1', rank: 0, stream: 'stdout', level: 'INFO', ts: null, line: text, ...over,
});

describeBoth('logs repository', (t) => {
  /** A trial with `n` lines "line 0" .. "line n-1", stored in batches of 4. */
  async function trialWithLines(n: number): Promise<number> {
    const { trialId } = await addExperimentWithTrial(t.db);
    const texts = Array.from({ length: n }, (_, i) => `line ${i}`);
    for (let i = 0; i < n; i += 4) await insertLogs(t.db, trialId, texts.slice(i, i + 4).map((x) => line(x)));
    return trialId;
  }
  const texts = (logs: Array<{ line: string }>) => logs.map((l) => l.line);

  it('stores a batch and returns it as stored, in order, with increasing ids', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    const agentTime = '2024-05-01T12:34:56.789Z';
    const stored = await insertLogs(t.db, trialId, [
      line('epoch 1', { ts: agentTime }),
      line('Traceback (most recent call last):', { stream: 'stderr', level: 'ERROR', rank: 1, ts: agentTime }),
      line("posted by the harness: 'quoted' \\ unicode ✓", { allocationId: null, agentId: null }),
    ]);
    expect(texts(stored)).toEqual(['epoch 1', 'Traceback (most recent call last):', "posted by the harness: 'quoted' \\ unicode ✓"]);
    expect(stored[0]!.id).toBeLessThan(stored[1]!.id);
    expect(stored[1]!.id).toBeLessThan(stored[2]!.id);
    expect(stored[0]).toEqual({ id: stored[0]!.id, trialId, allocationId: 'alloc-1', agentId: 'agent-1', rank: 0, stream: 'stdout', level: 'INFO', ts: agentTime, line: 'epoch 1' });
    expect(stored[1]).toMatchObject({ rank: 1, stream: 'stderr', level: 'ERROR' });
    expect(stored[2]).toMatchObject({ allocationId: null, agentId: null });
    // No timestamp: the line is stamped with the database's now.
    expect(Math.abs(Date.parse(stored[2]!.ts) - Date.now())).toBeLessThan(60_000);
    expect(await tailLogs(t.db, trialId, 10)).toEqual(stored);
    expect(await insertLogs(t.db, trialId, [])).toEqual([]);
  });

  it('keeps the order of a large batch', async () => {
    const { trialId } = await addExperimentWithTrial(t.db);
    const batch = Array.from({ length: 500 }, (_, i) => line(`step ${i}`, { rank: i % 4 }));
    const stored = await insertLogs(t.db, trialId, batch);
    expect(texts(stored)).toEqual(batch.map((l) => l.line));
    expect(stored.map((l) => l.rank)).toEqual(batch.map((l) => l.rank));
  });

  it('tails the last n lines of a trial, oldest first', async () => {
    const trialId = await trialWithLines(10);
    const noise = await addTrial(t.db, (await addExperimentWithTrial(t.db)).experimentId);
    await insertLogs(t.db, noise, [line('other trial')]);
    expect(texts(await tailLogs(t.db, trialId, 3))).toEqual(['line 7', 'line 8', 'line 9']);
    expect(texts(await tailLogs(t.db, trialId, 100))).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`));
    expect(await tailLogs(t.db, trialId + 1000, 5)).toEqual([]);
  });

  it('pages through the lines after an id', async () => {
    const trialId = await trialWithLines(10);
    const noise = (await addExperimentWithTrial(t.db)).trialId;
    await insertLogs(t.db, noise, [line('other trial')]);
    const seen: string[] = [];
    let after = 0;
    let pages = 0;
    for (;;) {
      const page = await logsAfter(t.db, trialId, after, 3);
      if (!page.length) break;
      expect(page.length).toBeLessThanOrEqual(3);
      seen.push(...texts(page));
      after = page[page.length - 1]!.id;
      pages++;
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`));
    expect(pages).toBe(4);
    await insertLogs(t.db, trialId, [line('late line')]);
    expect(texts(await logsAfter(t.db, trialId, after, 3))).toEqual(['late line']);
  });
  describeLastError();

  function describeLastError(): void {
    const err = (text: string, over: Partial<NewLogLine> = {}) => line(text, { stream: 'stderr', level: 'ERROR', ...over });

    it("quotes the exception that ended a rank: Node's trace without its stack frames, caret, blank lines and version trailer", async () => {
      const { trialId } = await addExperimentWithTrial(t.db);
      await insertLogs(t.db, trialId, [
        line('epoch 3: loss 0.41'),
        err('/work/model.js:12'),
        err("    throw new Error('shape mismatch: [32,10] vs [32,11]');"),
        err('    ^'),
        err(''),
        err("Error: shape mismatch: [32,10] vs [32,11]"),
        err('    at Trial.step (/work/model.js:12:11)'),
        err('    at async Harness.train (file:///harness/dist/index.js:88:5)'),
        err('\tat node:internal/main/run_main_module:28:49'),
        err('   '),
        err(''),
        err('Node.js v20.1.0'),
        line('shutting down'),
      ]);
      expect(await lastErrorLine(t.db, 'alloc-1', 0)).toBe('Error: shape mismatch: [32,10] vs [32,11]');
    });

    it('takes ERROR and FATAL lines on any stream and anything on stderr; the last one wins', async () => {
      const { trialId } = await addExperimentWithTrial(t.db);
      await insertLogs(t.db, trialId, [line('warning only', { level: 'WARNING' })]);
      expect(await lastErrorLine(t.db, 'alloc-1', 0)).toBeNull();
      await insertLogs(t.db, trialId, [line('CUDA error: device-side assert', { level: 'ERROR' })]);
      expect(await lastErrorLine(t.db, 'alloc-1', 0)).toBe('CUDA error: device-side assert');
      await insertLogs(t.db, trialId, [line('harness: giving up', { level: 'FATAL' }), line('after the error: still INFO')]);
      expect(await lastErrorLine(t.db, 'alloc-1', 0)).toBe('harness: giving up');
      await insertLogs(t.db, trialId, [line('npm warn: something on stderr', { stream: 'stderr', level: 'INFO' })]);
      expect(await lastErrorLine(t.db, 'alloc-1', 0)).toBe('npm warn: something on stderr');
    });

    it('reads only the given allocation and rank, and is null when it logged no error', async () => {
      const { trialId } = await addExperimentWithTrial(t.db);
      await insertLogs(t.db, trialId, [
        err('rank 1 of alloc-1 failed first', { rank: 1 }),
        line('rank 0: fine'),
        err('rank 0 of alloc-2', { allocationId: 'alloc-2' }),
        err('posted by the harness', { allocationId: null }),
        err('rank 1 of alloc-1, later killed', { rank: 1 }),
      ]);
      expect(await lastErrorLine(t.db, 'alloc-1', 1)).toBe('rank 1 of alloc-1, later killed');
      expect(await lastErrorLine(t.db, 'alloc-1', 0)).toBeNull();
      expect(await lastErrorLine(t.db, 'alloc-2', 0)).toBe('rank 0 of alloc-2');
      expect(await lastErrorLine(t.db, 'alloc-2', 1)).toBeNull();
      expect(await lastErrorLine(t.db, 'no-such-allocation', 0)).toBeNull();
      // Only a trace's debris: nothing to quote.
      await insertLogs(t.db, trialId, [err('    at f (x.js:1:2)', { allocationId: 'alloc-3' }), err('', { allocationId: 'alloc-3' }), err('Node.js v20.1.0', { allocationId: 'alloc-3' })]);
      expect(await lastErrorLine(t.db, 'alloc-3', 0)).toBeNull();
      // An error's property block and a tab-only line come after the message: the message is quoted.
      await insertLogs(t.db, trialId, [
        err("Error: ENOENT: no such file or directory, open 'data.json'", { allocationId: 'alloc-4' }),
        err('    at async open (node:internal/fs/promises:637:25) {', { allocationId: 'alloc-4' }),
        err('  errno: -2,', { allocationId: 'alloc-4' }),
        err("  path: 'data.json'", { allocationId: 'alloc-4' }),
        err('}', { allocationId: 'alloc-4' }),
        err('\t', { allocationId: 'alloc-4' }),
      ]);
      expect(await lastErrorLine(t.db, 'alloc-4', 0)).toBe("Error: ENOENT: no such file or directory, open 'data.json'");
    });
  }
});
