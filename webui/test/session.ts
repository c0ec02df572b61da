// What every browser test file shares: skipping (or failing, in CI) without Chromium, a master on a freshly
// seeded database with a browser in front of it, opening a page until it is drawn, and screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { QueryFn } from './seed';
import { REPO_ROOT, apiLogin, seedDatabase, startMaster, tempDataDir, type RunningMaster } from './master';
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
  /** Signed in as the admin (its token in localStorage), under the strict CSP. */
  ctx: BrowserContext;
  /** The admin's session token. */
  token: string;
  /** fetch() on the master's API (a path under /api/v1) as the admin, or with `token`. */
  api: (path: string, init?: RequestInit & { json?: unknown; token?: string }) => Promise<Response>;
  /** A new browser context; signed in with `token` when given (else signed out), under the strict CSP. */
  newContext: (token?: string) => Promise<BrowserContext>;
  close: () => Promise<void>;
}

/**
 * The strictest policy the master could send: no inline script or style, no eval, nothing from elsewhere, not even
 * data: images. Every browser test runs under it (on top of the master's own), so a page that needs more breaks
 * a test (openPage collects the "Refused to …" console errors) before it breaks a deployment.
 */
export const STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Adds STRICT_CSP to every page (document) the context loads from the master. */
export async function enforceStrictCsp(ctx: BrowserContext, masterUrl: string): Promise<void> {
  const origin = new URL(masterUrl).origin;
  await ctx.route(
    (u) => u.origin === origin && !u.pathname.startsWith('/api/') && !u.pathname.startsWith('/assets/') && !/\.[a-z0-9]+$/i.test(u.pathname),
    async (route) => {
      if (route.request().resourceType() !== 'document') return route.continue();
      const res = await route.fetch();
      const headers = res.headers();
      // Two policies are both enforced; as one header they are joined with a comma.
      headers['content-security-policy'] = headers['content-security-policy'] ? `${headers['content-security-policy']}, ${STRICT_CSP}` : STRICT_CSP;
      await route.fulfill({ response: res, headers });
    },
  );
}

/** A browser context for the master; signed in with `token` (it goes where the UI keeps it) unless none. */
export async function newUiContext(browser: Browser, masterUrl: string, token?: string): Promise<BrowserContext> {
  const origin = new URL(masterUrl).origin;
  const ctx = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    storageState: { cookies: [], origins: token ? [{ origin, localStorage: [{ name: 'hone.token', value: token }] }] : [] },
  });
  await enforceStrictCsp(ctx, masterUrl);
  return ctx;
}

/** Builds the UI if needed, seeds a new database, starts a master on it and a browser context signed in as admin. */
export async function startUiSession<T>(seed: (q: QueryFn) => Promise<T>): Promise<UiSession<T>> {
  ensureBuilt();
  const dir = tempDataDir();
  const fx = await seedDatabase(dir, seed);
  const master = await startMaster(dir);
  const token = await apiLogin(master.url);
  const browser = await launchBrowser();
  const ctx = await newUiContext(browser, master.url, token);
  fs.mkdirSync(SHOTS, { recursive: true });
  const s: UiSession<T> = {
    fx,
    master,
    browser,
    ctx,
    token,
    api: (p, init = {}) => {
      const { json, token: t, ...rest } = init;
      const headers: Record<string, string> = { Authorization: `Bearer ${t ?? token}`, ...(rest.headers as Record<string, string>) };
      if (json !== undefined) headers['Content-Type'] = 'application/json';
      return fetch(`${s.master.url}/api/v1${p}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
    newContext: (t) => newUiContext(browser, s.master.url, t),
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
  /** Console errors and uncaught exceptions (a CSP violation is one: "Refused to …"). */
  errors: string[];
  /** Paths (with query) of every request the page made. */
  requests: string[];
}

/**
 * Opens a page and waits for the marker every page sets once its data is drawn. `before` runs on the new page
 * before it navigates (routes, WebSocket stand-ins).
 */
export async function openPage(ctx: BrowserContext, url: string, before?: (page: Page) => Promise<void>, opts: { ready?: boolean } = {}): Promise<OpenedPage> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname + new URL(r.url()).search));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await before?.(page);
  await page.goto(url);
  if (opts.ready !== false) await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
  return { page, errors, requests };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}
