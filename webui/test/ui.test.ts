// The web UI in a real headless Chromium against a real master on a seeded database.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { seedStandard, type StandardFixture } from './seed';
import { startMaster, type RunningMaster } from './master';
import { fakeAgent } from './browser';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

describeBrowser('web UI (browser)', () => {
  let session: UiSession<StandardFixture>;
  let master: RunningMaster;
  let ctx: BrowserContext;
  let fx: StandardFixture;
  let agent: { close: () => void } | undefined;

  beforeAll(async () => {
    session = await startUiSession(seedStandard);
    ({ master, ctx, fx } = session);
    const running = fx.active.trialIds[2]!;
    agent = await fakeAgent(master.url, { id: 'agent-1', gpus: 4, running: [{ allocationId: `alloc-${running}`, rank: 0, pid: 4242 }, { allocationId: `alloc-${running}`, rank: 1, pid: 4243 }] });
  });

  afterAll(async () => {
    agent?.close();
    if (session) {
      session.master = master;
      await session.close();
    }
  });

  const open = (urlPath: string) => openPage(ctx, master.url + urlPath);

  const rowsOf = (page: Page) => page.$$eval('[data-testid="experiments-table"] tbody tr[data-experiment-id]', (trs) => trs.map((tr) => ({ id: Number(tr.getAttribute('data-experiment-id')), state: tr.getAttribute('data-state'), name: tr.querySelector('td:nth-child(2)')!.textContent!.trim() })));

  it('lists experiments, sorts by a column and filters by state, name and searcher', async () => {
    const { page, errors } = await open('/experiments');
    let rows = await rowsOf(page);
    expect(rows.length).toBe(7);
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((a, b) => b - a));
    await shot(page, 'experiments');

    await page.click('th[data-col="name"]');
    await page.waitForFunction(() => location.search.includes('sort=name'));
    await page.waitForFunction(() => document.querySelector('[data-testid="experiments-table"] tbody tr td:nth-child(2)')?.textContent?.trim() === 'bert-asha');
    rows = await rowsOf(page);
    const names = rows.map((r) => r.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));

    await page.click('[data-testid="filter-state"] [data-state="COMPLETED"]');
    await page.waitForFunction(() => location.search.includes('state=COMPLETED'));
    await page.waitForFunction(() => {
      const trs = [...document.querySelectorAll('[data-testid="experiments-table"] tbody tr[data-experiment-id]')];
      return trs.length > 0 && trs.every((tr) => tr.getAttribute('data-state') === 'COMPLETED');
    });
    rows = await rowsOf(page);
    expect(rows.length).toBe(3);

    await page.fill('[data-testid="filter-name"]', 'mnist');
    await page.waitForFunction(() => location.search.includes('name=mnist'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="experiments-table"] tbody tr[data-experiment-id]').length === 1);
    expect((await rowsOf(page))[0]!.name).toBe('mnist-baseline');

    // Shareable URL: the filters survive a reload.
    await page.goto(`${master.url}/experiments?searcher=adaptive_asha`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="experiments-table"] tbody tr[data-experiment-id]').length === 1);
    expect((await rowsOf(page))[0]!.name).toBe('bert-asha');
    expect(await page.inputValue('[data-testid="filter-searcher"]')).toBe('adaptive_asha');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('highlights the curve of a trial clicked in the table, and the row of a hovered curve', async () => {
    const { page, errors, requests } = await open(`/experiments/${fx.curves.id}`);
    await page.waitForSelector('[data-testid="learning-curves"] canvas');
    // The boot script and the app share the two critical requests: each is made exactly once.
    expect(requests.filter((r) => r === `/api/v1/experiments/${fx.curves.id}`)).toHaveLength(1);
    expect(requests.filter((r) => r.startsWith(`/api/v1/experiments/${fx.curves.id}/metrics?`))).toHaveLength(1);
    expect(Number(await page.getAttribute('[data-testid="learning-curves"]', 'data-series'))).toBe(24);
    await shot(page, 'experiment-curves');
    // The request names a point budget, which the master spreads over the 24 curves of 60 points: 20000 leaves
    // every point, 480 leaves 20 a curve (the ladder's least), 1200 leaves 50.
    for (const [budget, per] of [[20000, 60], [480, 20], [1200, 50]] as const) {
      const res = await session.api(`/experiments/${fx.curves.id}/metrics?group=validation&point_budget=${budget}`);
      const body = (await res.json()) as { maxPoints: number; series: Array<{ points: unknown[] }> };
      expect(body.series).toHaveLength(24);
      expect(body.series.map((x) => x.points.length)).toEqual(new Array(24).fill(per));
      expect(body.maxPoints).toBe(budget === 20000 ? 200 : per);
    }
    expect((await session.api(`/experiments/${fx.curves.id}/metrics?point_budget=5`)).status).toBe(400);
    // The metric history CSV: every point of every curve.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-metrics"]')]);
    const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('trial_id,steps_completed,validation.loss');
    expect(csv).toHaveLength(1 + 24 * 60);

    const target = fx.curves.trialIds[5]!;
    await page.click(`[data-testid="trials-table"] [data-row-id="${target}"] [role="cell"]:nth-child(3)`);
    await page.mouse.move(5, 5); // leave the table so only the click's selection remains
    await page.waitForSelector(`[data-testid="learning-curves"][data-highlighted-trial="${target}"]`);
    await page.waitForSelector(`[data-testid="curve-legend"] li[data-trial-id="${target}"][data-highlighted="true"]`);
    expect(await page.getAttribute(`[data-testid="trials-table"] [data-row-id="${target}"]`, 'data-selected')).toBe('true');
    await shot(page, 'experiment-curves-highlighted');

    // Clicking again clears the selection.
    await page.click(`[data-testid="trials-table"] [data-row-id="${target}"] [role="cell"]:nth-child(3)`);
    await page.mouse.move(5, 5);
    await page.waitForFunction(() => !document.querySelector('[data-testid="learning-curves"]')?.hasAttribute('data-highlighted-trial'));

    // Hovering the plot focuses the nearest curve, and its table row lights up.
    const box = (await page.$('[data-testid="learning-curves"] .u-over'))!;
    const b = (await box.boundingBox())!;
    let hovered: string | null = null;
    for (const fx_ of [0.1, 0.3, 0.5, 0.7]) {
      for (const fy of [0.2, 0.4, 0.6, 0.8]) {
        await page.mouse.move(b.x + b.width * fx_, b.y + b.height * fy);
        await page.waitForTimeout(60);
        hovered = await page.getAttribute('[data-testid="learning-curves"]', 'data-highlighted-trial');
        if (hovered) break;
      }
      if (hovered) break;
    }
    expect(hovered).not.toBeNull();
    await page.waitForSelector(`[data-testid="trials-table"] [data-row-id="${hovered}"][data-highlighted="true"]`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the trials, hyperparameters, rungs and config tabs', async () => {
    const { page, errors } = await open(`/experiments/${fx.curves.id}/trials`);
    await page.waitForSelector('[data-testid="trials-table"] [data-row-id]');
    // Windowed rows: 24 trials, all rendered; the header sorts.
    await page.click('[data-testid="trials-table"] [data-col="id"]');
    const ids = await page.$$eval('[data-testid="trials-table"] [data-row-id]', (rs) => rs.map((r) => Number(r.getAttribute('data-row-id'))));
    expect(ids).toEqual([...fx.curves.trialIds]);
    await shot(page, 'experiment-trials');

    // CSV export of the table as sorted on screen.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-trials"]')]);
    expect(download.suggestedFilename()).toBe(`experiment-${fx.curves.id}-trials.csv`);
    const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^trial_id,state,steps_completed,best_loss,.*\blr\b/);
    expect(csv.length).toBe(25);
    expect(csv[1]!.split(',')[0]).toBe(String(fx.curves.trialIds[0]));

    await page.click('[data-tab="hyperparameters"]');
    await page.waitForSelector('[data-testid="parallel-coordinates"] path[data-trial-id]');
    expect(await page.$$eval('[data-testid="parallel-coordinates"] path[data-trial-id]', (p) => p.length)).toBe(24);
    expect(await page.$$eval('[data-testid^="scatter-"]', (p) => p.length)).toBeGreaterThanOrEqual(4);
    await shot(page, 'experiment-hyperparameters');

    await page.click('[data-tab="config"]');
    expect(await page.textContent('[data-testid="config-yaml"]')).toContain('searcher:');
    await shot(page, 'experiment-config');
    expect(page.url()).toBe(`${master.url}/experiments/${fx.curves.id}/config`);

    const asha = await open(`/experiments/${fx.asha.id}/rungs`);
    await asha.page.waitForSelector('[data-testid="rungs-tab"] tr[data-rung]');
    const perRung = await asha.page.$$eval('[data-testid="rungs-tab"] tbody tr', (trs) => trs.map((tr) => Number(tr.querySelectorAll('td')[2]!.textContent)));
    expect(perRung).toEqual([40, 10, 2]);
    await shot(asha.page, 'experiment-rungs');
    expect(errors).toEqual([]);
    expect(asha.errors).toEqual([]);
    await page.close();
    await asha.page.close();
  });

  it('shows a trial with hyperparameters, charts and checkpoint downloads', async () => {
    const trial = fx.curves.trialIds[0]!;
    const { page, errors } = await open(`/trials/${trial}`);
    await page.waitForSelector('[data-testid="trial-charts"] canvas');
    expect(await page.textContent('[data-testid="trial-hparams"]')).toContain('dropout');
    const links = await page.$$eval('[data-testid="checkpoints"] a[href*="/download"]', (as) => as.map((a) => a.getAttribute('href')));
    expect(links.length).toBe(2);
    await shot(page, 'trial');
    await page.locator('[data-testid="checkpoints"]').scrollIntoViewIfNeeded();
    await shot(page, 'trial-checkpoints');
    expect(errors).toEqual([]);
    await page.close();
  });

  // Log lines are written as the harness writes them: with the task token of the trial's running allocation.
  const postLogs = (trial: number, lines: Array<{ line: string; rank?: number; level?: string }>) =>
    fetch(`${master.url}/api/v1/trials/${trial}/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer tok-alloc-${trial}` }, body: JSON.stringify({ lines }) });

  it('follows new log lines live and filters them', async () => {
    const trial = fx.active.trialIds[2]!;
    const { page, errors } = await open(`/trials/${trial}/logs`);
    await page.waitForSelector('[data-testid="log-lines"] [data-log-id]');
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    const marker = `written after the page opened ${Date.now()}`;
    const res = await postLogs(trial, [{ line: marker, rank: 1, level: 'WARN' }]);
    expect(res.ok).toBe(true);
    await page.waitForFunction((m) => document.querySelector('[data-testid="log-lines"]')!.textContent!.includes(m), marker, { timeout: 10_000 });
    await shot(page, 'trial-logs');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="log-download"]')]);
    expect(download.suggestedFilename()).toBe(`trial-${trial}-logs.txt`);
    const text = fs.readFileSync((await download.path())!, 'utf8');
    expect(text).toContain(marker);
    expect(text.trim().split('\n').length).toBe(41);

    await page.fill('[data-testid="log-search"]', 'written after');
    await page.waitForFunction(() => document.querySelector('[data-testid="log-lines"]')?.getAttribute('data-count') === '1');
    await page.fill('[data-testid="log-search"]', '');
    await page.selectOption('[data-testid="log-level"]', 'ERROR');
    const levels = await page.$$eval('[data-testid="log-lines"] .log-lvl', (s) => [...new Set(s.map((x) => x.textContent))]);
    expect(levels).toEqual(['ERROR']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows pools, agents with busy and free slots, and the job queue', async () => {
    const { page, errors } = await open('/cluster');
    await page.waitForSelector('[data-testid="agents"] [data-agent="agent-1"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="agents"] .slot.busy').length === 2);
    const busyHref = await page.getAttribute('[data-testid="agents"] .slot.busy', 'href');
    expect(busyHref).toBe(`/trials/${fx.active.trialIds[2]}`);
    expect(await page.$$eval('[data-testid="job-queue"] tr[data-allocation]', (r) => r.length)).toBeGreaterThanOrEqual(2);
    await shot(page, 'cluster');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('appends streamed metrics to the learning curves without refetching', async () => {
    const { page, errors, requests } = await open(`/experiments/${fx.active.id}`);
    await page.waitForSelector('[data-testid="learning-curves"] canvas');
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    const trial = fx.active.trialIds[2]!;
    const before = requests.filter((r) => r.includes('/metrics?')).length;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${master.url}/api/v1/trials/${trial}/metrics`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer tok-alloc-${trial}` },
        body: JSON.stringify({ group: 'validation', points: [{ stepsCompleted: 2000 + i * 100, metrics: { loss: 0.0123 - i * 0.001, accuracy: 0.99 } }] }),
      });
      expect(res.status).toBeLessThan(300);
    }
    // The trial's new best shows in the legend (ranked first) once the streamed points are appended.
    await page.waitForSelector(`[data-testid="curve-legend"] li[data-trial-id="${trial}"] .legend-val:text("0.0083")`, { timeout: 10_000 });
    await page.waitForTimeout(1000);
    expect(requests.filter((r) => r.includes('/metrics?')).length).toBe(before);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('reconnects by itself after the master restarts, then catches up on missed log lines', async () => {
    const trial = fx.active.trialIds[2]!;
    const { page, errors } = await open(`/trials/${trial}/logs`);
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    const port = Number(new URL(master.url).port);
    agent?.close();
    agent = undefined;
    await master.stop();
    await page.waitForSelector('[data-testid="connection"]:not([data-status="open"])', { timeout: 10_000 });
    master = await startMaster(master.dataDir, { port });
    session.master = master;
    // The agent comes back too and re-adopts the trial's allocation, whose task token writes the lines.
    agent = await fakeAgent(master.url, { id: 'agent-1', gpus: 4, running: [{ allocationId: `alloc-${trial}`, rank: 0, pid: 4242 }, { allocationId: `alloc-${trial}`, rank: 1, pid: 4243 }] });
    const post = (line: string) => postLogs(trial, [{ line, rank: 0 }]);
    // Written while the page may still be reconnecting: it arrives through the after_id catch-up or the stream.
    expect((await post('line written during the outage')).ok).toBe(true);
    await page.waitForSelector('[data-testid="connection"][data-status="open"]', { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="log-lines"]')!.textContent!.includes('during the outage'), undefined, { timeout: 15_000 });
    expect((await post('line written after the reconnect')).ok).toBe(true);
    await page.waitForFunction(() => document.querySelector('[data-testid="log-lines"]')!.textContent!.includes('after the reconnect'), undefined, { timeout: 10_000 });
    // Each line is shown once (no duplicates from the catch-up racing the stream).
    const count = await page.$$eval('[data-testid="log-lines"] .log-text', (s) => s.filter((x) => x.textContent!.includes('during the outage')).length);
    expect(count).toBe(1);
    // The only console errors allowed are the browser's reports of the refused WebSocket while the master was down.
    expect(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e))).toEqual([]);
    await page.close();
  });

  it('kills an experiment from the list after confirmation', async () => {
    const { page, errors } = await open('/experiments?state=ACTIVE');
    const id = fx.active.id;
    await page.click(`tr[data-experiment-id="${id}"] [data-action="kill"]`);
    await page.waitForSelector('[data-testid="confirm-dialog"][open]');
    await shot(page, 'experiments-kill-dialog');
    await page.click('[data-testid="confirm-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('[data-testid="confirm-dialog"]', { state: 'detached' });
    const state = async () => ((await (await session.api(`/experiments/${id}`)).json()) as { state: string }).state;
    await expect.poll(state, { timeout: 15_000 }).toMatch(/^(STOPPING_CANCELED|CANCELED)$/);
    // The row leaves the ACTIVE filter (live update or the refetch after the action).
    await page.waitForFunction((i) => document.querySelector(`tr[data-experiment-id="${i}"]`)?.getAttribute('data-state') !== 'ACTIVE', id, { timeout: 15_000 });
    expect(errors).toEqual([]);
    await page.close();
  });
});
