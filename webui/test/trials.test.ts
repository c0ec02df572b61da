// What a new user hit watching trials: curves missing for trials that validated once, lengths and progress that
// did not move, errored trials that never said why, a grid's planned total, log-scale hyperparameters on linear
// axes, a doubled metric group, and PAUSED trials. A real master on a seeded database, in headless Chromium.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ExperimentDetail, TrialDetail } from '@hone/protocol';
import { seriesColor } from '../src/format';
import { seedAllocations, seedExperiment, type QueryFn, type SeededExperiment } from './seed';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

interface Fixture {
  single: SeededExperiment;
  asha: SeededExperiment;
  long: SeededExperiment;
  failing: SeededExperiment;
  grid: SeededExperiment;
  paused: SeededExperiment;
}

const OOM = 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB';
const LR_GRID = [1e-3, 10 ** -2.5, 1e-2, 1e-3, 10 ** -2.5];

async function seed(q: QueryFn): Promise<Fixture> {
  // mnist random with a short max_length: every trial validates once.
  const single = await seedExperiment(q, { name: 'mnist-random-short', searcher: 'random', trials: 5, points: 1 });
  // ASHA: 6 of 8 trials stop at the bottom rung after one validation.
  const asha = await seedExperiment(q, { name: 'asha-8', searcher: 'adaptive_asha', trials: 8, points: 16 });
  // One trial 34,000 batches into 40,000, not validated yet.
  const long = await seedExperiment(q, {
    name: 'long-single',
    state: 'ACTIVE',
    searcher: 'single',
    trials: 1,
    points: 0,
    length: 40_000,
    progress: 0.85,
    trial: () => ({ state: 'ACTIVE', targetLength: 40_000, completedLength: 0, trainedLength: 34_000 }),
  });
  const failing = await seedExperiment(q, {
    name: 'failing-random',
    state: 'ERROR',
    trials: 3,
    points: 5,
    trial: (i) => (i === 1 ? { state: 'ERROR', restarts: 2, failure: `rank 1 exited with 1: ${OOM}`, trainedLength: 300 } : undefined),
  });
  const [bad, good] = failing.trialIds as [number, number];
  const placement = (agent: string) => [{ agentId: agent, devices: [0] }, { agentId: `${agent}b`, devices: [0] }];
  await seedAllocations(q, [
    { id: `run-${bad}-1`, trialId: bad, experimentId: failing.id, state: 'TERMINATED', slots: 2, placement: placement('gpu-1'), startedMinutesAgo: 50, endedMinutesAgo: 40, exitCode: 1, exitReason: 'rank 1 exited with 1', lastError: OOM, failed: true },
    { id: `run-${bad}-2`, trialId: bad, experimentId: failing.id, state: 'TERMINATED', slots: 2, placement: placement('gpu-3'), startedMinutesAgo: 39, endedMinutesAgo: 30, exitReason: 'lost agent gpu-3', failed: true },
    { id: `run-${bad}-3`, trialId: bad, experimentId: failing.id, state: 'TERMINATED', slots: 2, placement: placement('gpu-2'), startedMinutesAgo: 29, endedMinutesAgo: 20, exitCode: 1, exitReason: 'rank 1 exited with 1', lastError: OOM, failed: true },
    { id: `run-${good}-1`, trialId: good, experimentId: failing.id, state: 'TERMINATED', slots: 2, placement: placement('gpu-1'), startedMinutesAgo: 50, endedMinutesAgo: 45, exitCode: 0, exitReason: 'preempted' },
    { id: `run-${good}-2`, trialId: good, experimentId: failing.id, state: 'TERMINATED', slots: 2, placement: placement('gpu-2'), startedMinutesAgo: 44, endedMinutesAgo: 30, exitCode: 0, exitReason: 'exited' },
  ]);
  // A grid of 3 × 4 × 2 = 24 points (max_trials left out), 5 created so far; lr is log-uniform over one decade.
  const grid = await seedExperiment(q, {
    name: 'grid-lr',
    searcher: 'grid',
    trials: 5,
    points: 3,
    maxTrials: null,
    hyperparameters: `  lr: { type: log, minval: -3, maxval: -2, base: 10, count: 3 }
  layers: { type: int, minval: 1, maxval: 4 }
  optimizer: { type: categorical, vals: [adam, sgd] }`,
    trial: (i) => ({
      hparams: { lr: LR_GRID[i - 1], layers: i <= 3 ? 1 : 2, optimizer: 'adam' },
      ...(i === 1 ? { latestValidation: { loss: 0.41, validation_mae: 0.31 } } : {}),
    }),
  });
  const paused = await seedExperiment(q, { name: 'paused-random', state: 'PAUSED', trials: 4, points: 3, trial: (i) => ({ state: i <= 2 ? 'PAUSED' : 'COMPLETED' }) });
  return { single, asha, long, failing, grid, paused };
}

/** The RGB of an `hsla(h, s%, l%, a)` colour. */
function rgbOf(hsla: string): [number, number, number] {
  const [h, s, l] = /hsla\(([\d.]+), ([\d.]+)%, ([\d.]+)%/.exec(hsla)!.slice(1).map(Number) as [number, number, number];
  const a = (s / 100) * Math.min(l / 100, 1 - l / 100);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l / 100 - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** Which of the trials' curve colours appear on the chart's canvas: a trial that is not drawn leaves no pixel. */
async function drawnTrials(page: Page, trialIds: number[]): Promise<number[]> {
  const colours = trialIds.map((id) => rgbOf(seriesColor(id)));
  const found = await page.$eval(
    '[data-testid="learning-curves"] canvas',
    (c, targets) => {
      const canvas = c as HTMLCanvasElement;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      return targets.map(([r, g, b]) => {
        for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i]! - r) <= 12 && Math.abs(data[i + 1]! - g) <= 12 && Math.abs(data[i + 2]! - b) <= 12 && data[i + 3]! > 200) return true;
        return false;
      });
    },
    colours,
  );
  return trialIds.filter((_, i) => found[i]);
}

describeBrowser('web UI: watching trials (browser)', () => {
  let s: UiSession<Fixture>;
  let fx: Fixture;

  beforeAll(async () => {
    s = await startUiSession(seed);
    fx = s.fx;
  });
  afterAll(async () => s && (await s.close()));

  const open = (urlPath: string, before?: (page: Page) => Promise<void>) => openPage(s.ctx, s.master.url + urlPath, before);
  const getJson = async <T,>(p: string): Promise<T> => (await (await s.api(p)).json()) as T;

  /** Opens a page whose live stream the test can add messages to, as the master would send them. */
  async function openLive(urlPath: string): Promise<{ page: Page; errors: string[]; send: (m: unknown) => void }> {
    let route: { send: (m: string) => void } | undefined;
    const { page, errors } = await open(urlPath, (p) =>
      p.routeWebSocket(/\/api\/v1\/stream/, (ws) => {
        ws.connectToServer();
        route = ws;
      }),
    );
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    return { page, errors, send: (m) => route!.send(JSON.stringify(m)) };
  }

  it('draws every trial that has a validation, as a marker where it has only one', async () => {
    const { page, errors } = await open(`/experiments/${fx.single.id}`);
    await page.waitForSelector('[data-testid="learning-curves"] canvas');
    expect(await drawnTrials(page, fx.single.trialIds)).toEqual(fx.single.trialIds);
    await shot(page, 'curves-single-validation');

    const asha = await open(`/experiments/${fx.asha.id}`);
    await asha.page.waitForSelector('[data-testid="learning-curves"] canvas');
    expect(await drawnTrials(asha.page, fx.asha.trialIds)).toEqual(fx.asha.trialIds);
    await shot(asha.page, 'curves-asha-bottom-rung');
    expect([...errors, ...asha.errors]).toEqual([]);
    await page.close();
    await asha.page.close();
  });

  it('shows the length trained in the searcher unit, and keeps length, progress and best live', async () => {
    const trialId = fx.long.trialIds[0]!;
    const trial = await openLive(`/trials/${trialId}`);
    // The unit comes with the experiment, which the page does not wait for: wait for it here.
    await trial.page.waitForFunction(() => document.querySelector('.exp-head .facts')?.textContent?.includes(' batches'), undefined, { timeout: 10_000 }).catch(() => undefined);
    expect(await trial.page.textContent('.exp-head .facts')).toContain('34000 / 40000 batches');
    await shot(trial.page, 'trial-length');
    const summary = await getJson<TrialDetail>(`/trials/${trialId}`);
    const { checkpoints: _c, allocations: _a, ...t } = summary;
    trial.send({ topic: `trial:${trialId}`, type: 'trial', trial: { ...t, trainedLength: 36_000 } });
    await trial.page.waitForFunction(() => document.querySelector('[data-testid="trial-length"]')?.textContent?.includes('36000 / 40000 batches'));

    const exp = await openLive(`/experiments/${fx.long.id}/trials`);
    expect(await exp.page.getAttribute('[data-testid="experiment-progress"]', 'data-value')).toBe('0.85');
    // cells: the compare checkbox, trial, state, then length
    const cell = `[data-testid="trials-table"] [data-row-id="${trialId}"] [role="cell"]:nth-child(4)`;
    expect((await exp.page.textContent(cell))!.trim()).toBe('34000');
    expect(await exp.page.textContent('[data-testid="trials-table"] [data-col="length"]')).toContain('Batches');
    const detail = await getJson<ExperimentDetail>(`/experiments/${fx.long.id}`);
    const { trials: _t, config: _cfg, configYaml: _y, rungs: _r, ...e } = detail;
    exp.send({ topic: `experiment:${fx.long.id}`, type: 'experiment', experiment: { ...e, progress: 0.9, bestMetric: 0.0123 } });
    exp.send({ topic: `experiment:${fx.long.id}`, type: 'trial', trial: { ...t, trainedLength: 38_000 } });
    await exp.page.waitForSelector('[data-testid="experiment-progress"][data-value="0.9"]');
    await exp.page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.trim() === '38000', cell);
    expect(await exp.page.textContent('[data-testid="best-metric"]')).toBe('0.0123');
    await shot(exp.page, 'experiment-live-progress');
    expect([...trial.errors, ...exp.errors]).toEqual([]);
    await trial.page.close();
    await exp.page.close();
  });

  it('says why a trial failed, in the trial table and on the trial page with its restart history', async () => {
    const [bad, good] = fx.failing.trialIds as [number, number];
    const { page, errors } = await open(`/experiments/${fx.failing.id}/trials`);
    expect(await page.textContent(`[data-testid="trials-table"] [data-row-id="${bad}"]`)).toContain(OOM);
    await shot(page, 'experiment-trials-failure');

    const trial = await open(`/trials/${bad}`);
    expect(await trial.page.textContent('[data-testid="trial-failure"]')).toContain(`rank 1 exited with 1: ${OOM}`);
    await shot(trial.page, 'trial-failure');
    await trial.page.waitForSelector('[data-testid="trial-runs"] tr[data-allocation]');
    const runs = await trial.page.$$eval('[data-testid="trial-runs"] tr[data-allocation]', (trs) =>
      trs.map((tr) => ({ failed: tr.getAttribute('data-failed') === 'true', text: tr.textContent ?? '' })),
    );
    expect(runs.map((r) => r.failed)).toEqual([true, true, true]);
    expect(runs[0]!.text).toContain(OOM);
    expect(runs[0]!.text).toContain('code 1');
    expect(runs[0]!.text).toContain('gpu-1');
    expect(runs[1]!.text).toContain('lost agent gpu-3');
    await trial.page.locator('[data-testid="trial-runs"]').scrollIntoViewIfNeeded();
    await shot(trial.page, 'trial-restart-history');

    const ok = await open(`/trials/${good}`);
    await ok.page.waitForSelector('[data-testid="trial-runs"] tr[data-allocation]');
    expect(await ok.page.$$eval('[data-testid="trial-runs"] tr[data-failed]', (trs) => trs.length)).toBe(0);
    expect(await ok.page.$('[data-testid="trial-failure"]')).toBeNull();
    expect([...errors, ...trial.errors, ...ok.errors]).toEqual([]);
    await page.close();
    await trial.page.close();
    await ok.page.close();
  });

  it("counts a grid's trials against the grid's size, not max_trials", async () => {
    const { page, errors } = await open(`/experiments/${fx.grid.id}/trials`);
    expect(await page.textContent('.facts div:has(dt:text-is("Trials")) dd')).toBe('5 / 24');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws log-scale hyperparameters on log axes', async () => {
    const { page, errors } = await open(`/experiments/${fx.grid.id}/hyperparameters`);
    await page.waitForSelector('[data-testid="scatter-lr"] circle[data-trial-id]');
    // 10^-2.5 lies halfway between 10^-3 and 10^-2 on a log axis (a quarter of the way on a linear one).
    const [t1, t2, t3] = fx.grid.trialIds as [number, number, number];
    const cx = (id: number) => page.getAttribute(`[data-testid="scatter-lr"] circle[data-trial-id="${id}"]`, 'cx').then(Number);
    const [lo, mid, hi] = [await cx(t1), await cx(t2), await cx(t3)];
    expect(Math.abs(mid - (lo + hi) / 2)).toBeLessThan(1);
    expect(await page.getAttribute('[data-testid="scatter-lr"]', 'data-scale')).toBe('log');
    expect(await page.textContent('[data-testid="parallel-coordinates"]')).toContain('lr (log)');
    await shot(page, 'hyperparameters-log-axis');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('names a metric that already says its group once', async () => {
    const { page, errors } = await open(`/trials/${fx.grid.trialIds[0]}`);
    const names = await page.$$eval('.trial-side th', (ths) => ths.map((th) => th.textContent));
    expect(names).toContain('validation_mae');
    expect(names).toContain('validation loss');
    expect(names).not.toContain('validation validation_mae');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the trials of a paused experiment as paused, and filters by trial state', async () => {
    const { page, errors } = await open(`/experiments/${fx.paused.id}/trials`);
    const badges = () => page.$$eval('[data-testid="trials-table"] [data-row-id] .badge', (bs) => bs.map((b) => `${b.getAttribute('data-state')} ${b.className}`));
    expect((await badges()).filter((b) => b.startsWith('PAUSED'))).toEqual(['PAUSED badge st-paused', 'PAUSED badge st-paused']);
    expect(await page.textContent('[data-testid="trial-state-filter"] [data-state="PAUSED"]')).toBe('paused2');
    await page.click('[data-testid="trial-state-filter"] [data-state="PAUSED"]');
    await page.waitForFunction(() => location.search.includes('state=PAUSED'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="trials-table"] [data-row-id]').length === 2);
    expect((await badges()).every((b) => b.startsWith('PAUSED'))).toBe(true);
    await shot(page, 'experiment-trials-paused');
    expect(errors).toEqual([]);
    await page.close();
  });
});
