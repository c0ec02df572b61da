import { expect, it } from 'vitest';
import { insertLogs, logsAfter, tailLogs, type NewLogLine } from '../../master/src/db/logs';
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
});
