// The runs-first view against a real master: trials across experiments, windowed (only the rows in view are in the
// DOM, only the windows scrolled to are fetched), filtered by project, state, hyperparameter and metric ranges,
// archived experiments left out unless shown, sorted on the server, with the compare checkboxes and trial actions.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Page as ApiPage, RunSummary } from '@hone/protocol';
import { seedExperiment, type QueryFn, type SeededExperiment } from './seed';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

interface Fixture {
  big: SeededExperiment;
  vision: SeededExperiment;
  live: SeededExperiment;
  archived: SeededExperiment;
}

async function seed(q: QueryFn): Promise<Fixture> {
  // 1,300 trials: more than the first window (100) and the next two (500 each).
  const big = await seedExperiment(q, { name: 'runs-big', trials: 1300, points: 2, project: 'nlp' });
  const vision = await seedExperiment(q, { name: 'runs-vision', trials: 20, points: 4, project: 'vision' });
  const live = await seedExperiment(q, { name: 'runs-live', state: 'ACTIVE', trials: 3, points: 2, project: 'vision', trial: () => ({ state: 'ACTIVE' }) });
  const archived = await seedExperiment(q, { name: 'runs-archived', trials: 5, points: 2, project: 'vision', archived: true });
  return { big, vision, live, archived };
}

describeBrowser('runs view (browser)', () => {
  let s: UiSession<Fixture>;
  beforeAll(async () => {
    s = await startUiSession(seed);
  });
  afterAll(async () => {
    await s?.close();
  });
  const getRuns = async (q: string): Promise<ApiPage<RunSummary>> => {
    const r = await s.api(`/runs?${q}`);
    expect(r.status, q).toBe(200);
    return (await r.json()) as ApiPage<RunSummary>;
  };
  const total = (page: Page) => page.getAttribute('[data-testid="runs-table"]', 'data-rows').then(Number);
  const shownIds = (page: Page) => page.$$eval('[data-testid="runs-table"] [data-row-id]', (rs) => rs.map((r) => Number(r.getAttribute('data-row-id'))));
  const waitTotal = (page: Page, n: number) => page.waitForFunction((x) => document.querySelector('[data-testid="runs-table"]')?.getAttribute('data-rows') === String(x), n);

  it('lists every run across experiments, windowed, and fetches the windows scrolled to', async () => {
    const { page, errors, requests } = await openPage(s.ctx, `${s.master.url}/experiments`);
    await page.click('[data-testid="view-switch"] [data-view="runs"]');
    await page.waitForSelector('[data-testid="runs-table"] [data-row-id]');
    expect(await total(page)).toBe(1300 + 20 + 3);
    // Newest trials first, as the API sorts them.
    const first = await getRuns('limit=5');
    expect((await shownIds(page)).slice(0, 5)).toEqual(first.items.map((r) => r.id));
    // Only the rows in view (and a few around them) are in the DOM; one small first request.
    const dom = await page.$$eval('[data-testid="runs-table"] .vt-body [role="row"]', (r) => r.length);
    expect(dom).toBeLessThan(60);
    expect(requests.filter((r) => r.startsWith('/api/v1/runs?'))).toHaveLength(1);
    await shot(page, 'runs');

    // Jump to the end: the last window is fetched and drawn, the ones in between are not.
    await page.$eval('[data-testid="runs-table"]', (el) => (el.scrollTop = el.scrollHeight));
    await page.waitForSelector(`[data-testid="runs-table"] [data-row-index="${1322}"][data-row-id]`);
    const last = await getRuns('offset=1322&limit=1');
    expect(await page.getAttribute(`[data-testid="runs-table"] [data-row-index="1322"]`, 'data-row-id')).toBe(String(last.items[0]!.id));
    const runRequests = requests.filter((r) => r.startsWith('/api/v1/runs?'));
    expect(runRequests.some((r) => r.includes('offset=1100'))).toBe(true);
    expect(runRequests.some((r) => r.includes('offset=100&'))).toBe(false);
    expect(await page.$$eval('[data-testid="runs-table"] .vt-body [role="row"]', (r) => r.length)).toBeLessThan(60);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('filters by project, state, hyperparameter and metric ranges, and shows archived runs on request', async () => {
    const { page, errors, requests } = await openPage(s.ctx, `${s.master.url}/experiments?view=runs`);
    await page.waitForSelector('[data-testid="runs-table"] [data-row-id]');
    // Loaded directly, the first window is requested by the boot script, before the bundle, and adopted by the app.
    expect(requests.filter((r) => r.startsWith('/api/v1/runs?'))).toEqual(['/api/v1/runs?sort=id&order=desc&offset=0&limit=100']);
    // The boot script made it (window.__honePrefetch exists) and the app took it (nothing left unclaimed).
    expect(await page.evaluate(() => (window as unknown as { __honePrefetch?: object }).__honePrefetch && Object.keys((window as unknown as { __honePrefetch: object }).__honePrefetch))).toEqual([]);
    await page.selectOption('[data-testid="runs-project"]', 'vision');
    await waitTotal(page, 23);
    await page.check('[data-testid="runs-archived"]');
    await waitTotal(page, 28);
    await page.uncheck('[data-testid="runs-archived"]');
    await waitTotal(page, 23);
    await page.click('[data-testid="runs-state"] [data-state="ACTIVE"]');
    await waitTotal(page, 3);
    expect((await shownIds(page)).sort()).toEqual([...s.fx.live.trialIds].sort());
    // The same actions as elsewhere: a running trial can be killed from here.
    expect(await page.$$eval('[data-testid="runs-table"] [data-action="kill-trial"]', (b) => b.length)).toBe(3);
    await page.click('[data-testid="runs-state"] [data-state="ACTIVE"]');
    await waitTotal(page, 23);

    // Hyperparameter range: the count agrees with the API for the same range.
    await page.fill('[data-testid="runs-hp"]', 'lr');
    await page.fill('[data-testid="runs-hp-min"]', '0.001');
    await page.fill('[data-testid="runs-hp-max"]', '0.01');
    await page.waitForFunction(() => location.search.includes('hpmax=0.01'));
    const byHp = await getRuns('project=vision&hp=lr:0.001:0.01&limit=100');
    expect(byHp.total).toBeGreaterThan(0);
    expect(byHp.total).toBeLessThan(23);
    await waitTotal(page, byHp.total);
    expect((await shownIds(page)).sort()).toEqual(byHp.items.map((r) => r.id).sort());

    // Metric range on top.
    await page.fill('[data-testid="runs-metric"]', 'loss');
    await page.fill('[data-testid="runs-metric-max"]', '0.3');
    await page.waitForFunction(() => location.search.includes('mmax=0.3'));
    const byBoth = await getRuns('project=vision&hp=lr:0.001:0.01&metric=loss::0.3&limit=100');
    await waitTotal(page, byBoth.total);
    await shot(page, 'runs-filtered');
    // The filters are in the URL: a reload shows the same view.
    await page.reload();
    await waitTotal(page, byBoth.total);
    expect(await page.inputValue('[data-testid="runs-hp"]')).toBe('lr');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('sorts on the server by a clicked column', async () => {
    const { page, errors, requests } = await openPage(s.ctx, `${s.master.url}/experiments?view=runs&project=vision`);
    await waitTotal(page, 23);
    expect(requests.filter((r) => r.startsWith('/api/v1/runs?'))).toHaveLength(1);
    await page.click('[data-testid="runs-table"] [data-col="bestValidation"]');
    await page.waitForFunction(() => location.search.includes('sort=bestValidation'));
    const order = new URL(page.url()).searchParams.get('order')!;
    const sorted = await getRuns(`project=vision&sort=bestValidation&order=${order}&limit=100`);
    await page.waitForFunction((id) => document.querySelector('[data-testid="runs-table"] [data-row-index="0"]')?.getAttribute('data-row-id') === String(id), sorted.items[0]!.id);
    expect((await shownIds(page)).slice(0, 10)).toEqual(sorted.items.slice(0, 10).map((r) => r.id));
    await page.click('[data-testid="runs-table"] [data-col="bestValidation"]');
    await page.waitForFunction((o) => new URL(location.href).searchParams.get('order') === o, order === 'asc' ? 'desc' : 'asc');
    // A hyperparameter column sorts by that hyperparameter (`hp.NAME` on the server).
    await page.click('[data-testid="runs-table"] [data-col="hp.lr"]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('sort') === 'hp.lr');
    const byLr = await getRuns(`project=vision&sort=hp.lr&order=${new URL(page.url()).searchParams.get('order')}&limit=100`);
    await page.waitForFunction((id) => document.querySelector('[data-testid="runs-table"] [data-row-index="0"]')?.getAttribute('data-row-id') === String(id), byLr.items[0]!.id);
    expect((await shownIds(page)).slice(0, 10)).toEqual(byLr.items.slice(0, 10).map((r) => r.id));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('picks runs of two experiments for the comparison', async () => {
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/experiments?view=runs`);
    await page.waitForSelector('[data-testid="runs-table"] [data-row-id]');
    await page.evaluate(() => sessionStorage.removeItem('hone.compare'));
    const big = s.fx.big.trialIds.at(-1)!;
    const vision = s.fx.vision.trialIds.at(-1)!;
    await page.selectOption('[data-testid="runs-project"]', 'nlp');
    await page.check(`[data-testid="runs-table"] [data-row-id="${big}"] input[data-compare]`);
    await page.selectOption('[data-testid="runs-project"]', 'vision');
    await page.waitForSelector(`[data-testid="runs-table"] [data-row-id="${vision}"]`);
    await page.check(`[data-testid="runs-table"] [data-row-id="${vision}"] input[data-compare]`);
    await page.click('[data-testid="open-compare"]');
    await page.waitForSelector('[data-testid="compare-curves"] canvas');
    expect(new URL(page.url()).searchParams.get('trials')).toBe(`${big},${vision}`);
    expect(errors).toEqual([]);
    await page.close();
  });
});
