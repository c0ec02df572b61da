// While a long single trial trains, its length, the experiment's progress and best move with each validation
// (they used to stay at 0 until the searcher's one operation completed), and the live stream says so.
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentSummary, TrialSummary } from '@hone/protocol';
import { archive } from '../helpers/archive';
import { waitForExperimentEnd } from '../helpers/experiments';
import { api, ROOT, startAgentProcess, startMasterProcess, tmpDir, waitFor, type MasterProc, type Proc } from '../helpers/processes';

describe('progress while training', () => {
  let master: MasterProc;
  let agent: Proc;
  const dataDir = tmpDir('progress');

  beforeAll(async () => {
    master = await startMasterProcess({ dataDir });
    agent = startAgentProcess({ masterUrl: master.url, id: 'agent-progress', slots: 1, workDir: path.join(dataDir, 'work') });
  }, 120_000);
  afterAll(async () => {
    await agent?.kill();
    await master?.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('moves length, progress and best at each validation, and streams them', async () => {
    const config = fs
      .readFileSync(path.join(ROOT, 'examples/synthetic/single.yaml'), 'utf8')
      .replace(/max_length:\n {4}batches: 300/, 'max_length:\n    batches: 1200')
      .replace(/min_validation_period:\n {2}batches: 100/, 'min_validation_period:\n  batches: 200');
    const model = fs.readFileSync(path.join(ROOT, 'examples/synthetic/model.ts'), 'utf8');
    const ws = new WebSocket(`${master.url.replace('http', 'ws')}/api/v1/stream?token=${master.token}`);
    const streamed: Array<{ type: string; experiment?: ExperimentSummary; trial?: TrialSummary }> = [];
    ws.on('message', (d) => streamed.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config, context: (await archive({ 'model.ts': model })).toString('base64') });
    expect(created.status).toBe(201);
    const id = created.body.id;
    ws.send(JSON.stringify({ type: 'subscribe', topics: [`experiment:${id}`] }));

    // Mid-training: the one operation (1200 batches) has not completed, yet length, progress and best moved.
    const mid = await waitFor(
      'a validation before the end of the operation',
      async () => {
        const e = (await api<{ progress: number; bestMetric: number | null; trials: TrialSummary[] }>(master.url, 'GET', `/experiments/${id}`)).body;
        const t = e.trials[0];
        return t && t.completedLength === 0 && t.trainedLength >= 200 && t.trainedLength < 1200 ? { e, t } : null;
      },
      120_000,
      100,
    );
    expect(mid.t.targetLength).toBe(1200);
    expect(mid.e.progress).toBeGreaterThan(0);
    expect(mid.e.progress).toBeLessThan(1);
    expect(mid.e.bestMetric).toEqual(expect.any(Number));
    expect(mid.t.bestValidation).toEqual(expect.any(Number));

    const done = await waitForExperimentEnd(master.url, id, 180_000);
    expect(done.state).toBe('COMPLETED');
    expect(done.trials[0]!.trainedLength).toBe(1200);
    expect(done.progress).toBe(1);
    ws.close();
    // The live stream carried the moving numbers: trial events with growing length, experiment events with progress.
    const lengths = streamed.filter((m) => m.type === 'trial').map((m) => m.trial!.trainedLength);
    expect(lengths.some((l) => l > 0 && l < 1200)).toBe(true);
    expect(streamed.some((m) => m.type === 'experiment' && m.experiment!.progress > 0 && m.experiment!.progress < 1)).toBe(true);
  }, 300_000);
});
