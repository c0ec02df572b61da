// What every browser test file shares: skipping (or failing, in CI) without Chromium, a master on a freshly
// seeded database with a browser in front of it, opening a page until it is drawn, and screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { QueryFn } from './seed';
import { REPO_ROOT, seedDatabase, startMaster, tempDataDir, type RunningMaster } from './master';
import { browserUnavailable, ensureBuilt, launchBrowser } from './browser';

export const SHOTS = path.join(REPO_ROOT, 'test-results/screenshots');

/** `describe` for browser tests: skipped where Chromium is missing, failing in CI where it must be there. */
export function describeBrowser(name: string, body: () => void): void {
  const unavailable = browserUnavailable();
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  if (unavailable && ci)
    describe(name, () => {
      it('needs Chromium in CI', () => {
        throw new Error(`browser tests cannot run: ${unavailable}`);
      });
    });
  else if (unavailable) describe.skip(`${name} — skipped: ${unavailable}`, () => it('skipped', () => undefined));
  else describe(name, body);
}

export interface UiSession<T> {
  fx: T;
  /** Replaced by a test that restarts the master. */
  master: RunningMaster;
  browser: Browser;
  ctx: BrowserContext;
  close: () => Promise<void>;
}

/** Builds the UI if needed, seeds a new database, starts a master on it and a browser context. */
export async function startUiSession<T>(seed: (q: QueryFn) => Promise<T>): Promise<UiSession<T>> {
  ensureBuilt();
  const dir = tempDataDir();
  const fx = await seedDatabase(dir, seed);
  const master = await startMaster(dir);
  const browser = await launchBrowser();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  fs.mkdirSync(SHOTS, { recursive: true });
  const s: UiSession<T> = {
    fx,
    master,
    browser,
    ctx,
    close: async () => {
      await ctx.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await s.master.stop();
      fs.rmSync(s.master.dataDir, { recursive: true, force: true });
    },
  };
  return s;
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Paths (with query) of every request the page made. */
  requests: string[];
}

/**
 * Opens a page and waits for the marker every page sets once its data is drawn. `before` runs on the new page
 * before it navigates (routes, WebSocket stand-ins).
 */
export async function openPage(ctx: BrowserContext, url: string, before?: (page: Page) => Promise<void>): Promise<OpenedPage> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname + new URL(r.url()).search));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await before?.(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
  return { page, errors, requests };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}
