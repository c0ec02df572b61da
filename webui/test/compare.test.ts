// Comparing trials from two experiments: picked with the checkboxes of each experiment's trial table, opened from
// the compare bar, shown side by side (differing hyperparameters highlighted, overlaid curves, final metrics).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedExperiment, type QueryFn, type SeededExperiment } from './seed';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

interface Fixture {
  a: SeededExperiment;
  b: SeededExperiment;
}

async function seed(q: QueryFn): Promise<Fixture> {
  const a = await seedExperiment(q, { name: 'cmp-a', trials: 4, points: 20 });
  const b = await seedExperiment(q, {
    name: 'cmp-b',
    trials: 3,
    points: 12,
    // The same lr and layers as cmp-a's first trial in the second trial; a key of its own in every trial.
    trial: (i) => ({ hparams: { lr: 0.0001, batch_size: 32, dropout: 0.1 * i, layers: 2, optimizer: 'adam', epochs_const: 3, warmup: i * 100 } }),
  });
  return { a, b };
}

describeBrowser('compare trials (browser)', () => {
  let s: UiSession<Fixture>;
  beforeAll(async () => {
    s = await startUiSession(seed);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('picks trials in two experiments with the checkboxes and compares them side by side', async () => {
    const { a, b } = s.fx;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/experiments/${a.id}/trials`);
    await page.waitForSelector('[data-testid="trials-table"] [data-row-id]');
    for (const id of a.trialIds.slice(0, 2)) await page.check(`[data-testid="trials-table"] [data-row-id="${id}"] input[data-compare="${id}"]`);
    await page.waitForSelector('[data-testid="compare-bar"]');
    expect(await page.$$eval('[data-testid="compare-bar"] [data-picked]', (els) => els.map((e) => Number(e.getAttribute('data-picked'))))).toEqual(a.trialIds.slice(0, 2));
    // Ticking a box picks; it does not select (highlight) the row.
    expect(await page.getAttribute(`[data-testid="trials-table"] [data-row-id="${a.trialIds[0]}"]`, 'data-selected')).toBeNull();

    // The pick survives going to another experiment (same tab).
    await page.click(`a[href="/experiments"]`);
    await page.waitForSelector(`tr[data-experiment-id="${b.id}"]`);
    await page.goto(`${s.master.url}/experiments/${b.id}/trials`);
    await page.waitForSelector('[data-testid="trials-table"] [data-row-id]');
    for (const id of b.trialIds.slice(0, 2)) await page.check(`input[data-compare="${id}"]`);
    const picked = [...a.trialIds.slice(0, 2), ...b.trialIds.slice(0, 2)];
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="compare-bar"] [data-picked]').length === n, picked.length);
    await shot(page, 'compare-picking');
    await page.click('[data-testid="open-compare"]');
    await page.waitForSelector('[data-testid="compare-page"]');
    await page.waitForSelector('[data-testid="compare-curves"] canvas');
    expect(new URL(page.url()).search).toBe(`?trials=${picked.join(',')}`);

    // One column per trial, in the order picked.
    const cols = await page.$$eval('[data-testid="compare-trials"] thead th[data-trial-id]', (ths) => ths.map((t) => Number(t.getAttribute('data-trial-id'))));
    expect(cols).toEqual(picked);
    // Each column names its experiment (from GET /trials/compare).
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="compare-experiment"]')].every((a) => /cmp-[ab]/.test(a.textContent ?? '')));
    expect(await page.$$eval('[data-testid="compare-experiment"]', (as) => as.map((a) => a.textContent))).toEqual([`#${a.id} cmp-a`, `#${a.id} cmp-a`, `#${b.id} cmp-b`, `#${b.id} cmp-b`]);
    // Hyperparameters: differing rows are marked (lr differs, epochs_const is 3 everywhere, warmup exists only in cmp-b).
    const rows = await page.$$eval('[data-testid="compare-hparams"] tbody tr', (trs) => trs.map((tr) => ({ key: tr.getAttribute('data-hparam'), differs: tr.getAttribute('data-differs') === 'true', cells: [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim()) })));
    const row = (k: string) => rows.find((r) => r.key === k)!;
    expect(row('epochs_const').differs).toBe(false);
    expect(row('epochs_const').cells).toEqual(['3', '3', '3', '3']);
    expect(row('warmup').differs).toBe(true);
    expect(row('warmup').cells).toEqual(['–', '–', '100', '200']);
    expect(row('dropout').differs).toBe(true);
    // Differences first.
    expect(rows.findIndex((r) => !r.differs)).toBeGreaterThan(rows.findIndex((r) => r.key === 'warmup'));
    expect(await page.$eval('[data-testid="compare-hparams"] tr.differs td', (td) => getComputedStyle(td).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    // Only differences.
    await page.check('[data-testid="only-differences"]');
    await page.waitForFunction(() => !document.querySelector('[data-testid="compare-hparams"] tr[data-hparam="epochs_const"]'));

    // Curves of every trial overlaid, for the metric picked.
    expect(Number(await page.getAttribute('[data-testid="compare-curves"]', 'data-series'))).toBe(4);
    await page.selectOption('[data-testid="compare-metric"]', { label: 'validation accuracy' });
    await page.waitForFunction(() => location.search.includes('metric=accuracy'));
    await page.waitForSelector('[data-testid="compare-curves"][data-series="4"] canvas');

    // Final metrics: the latest loss of each trial as the API has it, the lowest marked best.
    const latest = await Promise.all(picked.map(async (id) => ((await (await s.api(`/trials/${id}`)).json()) as { latestValidation: Record<string, number> }).latestValidation.loss!));
    const lossCells = await page.$$eval('[data-testid="compare-metrics"] tr[data-metric="validation.loss"] td', (tds) => tds.map((td) => ({ text: td.textContent!.trim(), best: td.getAttribute('data-best') === 'true' })));
    expect(lossCells).toHaveLength(4);
    const bestIdx = latest.indexOf(Math.min(...latest));
    expect(lossCells.findIndex((c) => c.best)).toBe(bestIdx);
    await shot(page, 'compare');

    // Removing a column rewrites the URL; the compare bar's pick follows.
    await page.click(`[data-testid="compare-trials"] [data-remove="${picked[0]}"]`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="compare-trials"] thead th[data-trial-id]').length === n, 3);
    expect(new URL(page.url()).search).toBe(`?trials=${picked.slice(1).join(',')}`);
    expect(await page.evaluate(() => sessionStorage.getItem('hone.compare'))).toBe(JSON.stringify(picked.slice(1)));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says what to do with fewer than two trials, and names a trial that does not exist', async () => {
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/compare?trials=${s.fx.a.trialIds[0]}`);
    await page.waitForSelector('[data-testid="compare-too-few"]');
    await page.goto(`${s.master.url}/compare?trials=${s.fx.a.trialIds[0]},999999`);
    await page.waitForSelector('[data-testid="compare-error"]');
    expect(await page.textContent('[data-testid="compare-error"]')).toContain('999999');
    // The missing trial's 404 is the only console error.
    expect(errors.filter((e) => !e.includes('404'))).toEqual([]);
    await page.close();
  });
});
