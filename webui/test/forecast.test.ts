// The Estimate page against a real master: a pasted config, forecast on N slots, the figures and the timeline
// chart drawn under the strict CSP; a bad config shows the master's message.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

describeBrowser('estimate page (browser)', () => {
  let s: UiSession<Record<string, never>>;
  beforeAll(async () => {
    s = await startUiSession(async () => ({}));
  });
  afterAll(async () => {
    await s?.close();
  });

  it('forecasts a pasted config on N slots and draws its timeline', async () => {
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/forecast`);
    await page.fill('[data-testid="forecast-config"]', fs.readFileSync('examples/synthetic/adaptive_asha.yaml', 'utf8'));
    await page.check('input[type="radio"] >> nth=1');
    await page.fill('[data-testid="forecast-slots"]', '4');
    await page.fill('[data-testid="forecast-seconds"]', '2');
    await page.click('[data-testid="forecast-run"]');
    await page.waitForSelector('[data-testid="forecast-result"]');
    expect(await page.textContent('[data-testid="forecast-wallclock"]')).toMatch(/^\d+m \d+s$|^\d+s$|^\d+h/);
    expect(await page.textContent('[data-testid="forecast-result"]')).toContain('8 trials');
    await page.waitForSelector('[data-testid="forecast-chart"] canvas');
    await shot(page, 'forecast');

    await page.fill('[data-testid="forecast-config"]', 'name: x\nsearcher: {name: nope}\n');
    await page.click('[data-testid="forecast-run"]');
    await page.waitForSelector('[data-testid="forecast-error"]');
    expect(await page.textContent('[data-testid="forecast-error"]')).toMatch(/invalid experiment config/);
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });
});
