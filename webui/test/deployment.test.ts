// The web UI as people reach it on their network: a master on a LAN address, over plain HTTP (the README's
// setup), with its own security headers and nothing added by the test. Skipped where the machine has no
// non-loopback address.
import os from 'node:os';
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { seedStandard } from './seed';
import { apiLogin, seedDatabase, startMaster, tempDataDir, type RunningMaster } from './master';
import { ensureBuilt, launchBrowser } from './browser';
import { describeBrowser } from './session';

const lan = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describeBrowser('the UI on a LAN address over HTTP (browser)', () => {
  let master: RunningMaster;
  let browser: Browser;
  let url = '';

  beforeAll(async () => {
    if (!lan) return;
    ensureBuilt();
    const dir = tempDataDir();
    await seedDatabase(dir, seedStandard);
    master = await startMaster(dir, { extraArgs: ['--host', '0.0.0.0'] });
    url = `http://${lan}:${new URL(master.url).port}`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await master?.stop();
    if (master) fs.rmSync(master.dataDir, { recursive: true, force: true });
  });

  // The master leaves `upgrade-insecure-requests` out of its CSP (helmet adds it by default): with it, the
  // browser would ask for the page's own script and stylesheet over https, which a plain-HTTP master does not
  // speak, and the page would stay blank.
  it.skipIf(!lan)('draws the experiments with the master’s own headers', async () => {
    const token = await apiLogin(url);
    const ctx = await browser.newContext({ storageState: { cookies: [], origins: [{ origin: url, localStorage: [{ name: 'hone.token', value: token }] }] } });
    const page = await ctx.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    const res = await page.goto(`${url}/experiments`);
    expect(res?.headers()['content-security-policy']).toBeTruthy();
    try {
      await page.waitForSelector('[data-testid="experiments-table"] tr[data-experiment-id]', { timeout: 10_000 });
    } catch {
      throw new Error(`the page did not draw; failed requests:\n${failed.join('\n')}\nCSP: ${res?.headers()['content-security-policy']}`);
    }
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    expect(failed).toEqual([]);
    await ctx.close();
  });
});
