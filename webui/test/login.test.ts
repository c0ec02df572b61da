// Signing in and out of the web UI against a real master that requires it: the login form on a deep link and its
// return to that very page, the master's refusal in its own words, throttling with Retry-After, the user menu and
// sign out (the session is revoked), and a session that ends mid-way bringing the form back over the same page.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { seedStandard, type StandardFixture } from './seed';
import { apiLogin, createUser } from './master';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

describeBrowser('signing in (browser)', () => {
  let s: UiSession<StandardFixture>;
  const password = (u: string) => `${u}-password-1234`;

  beforeAll(async () => {
    s = await startUiSession(seedStandard);
    // One user per test: the master throttles sign-in attempts per user name and address.
    for (const u of ['ursula', 'victor', 'wanda', 'xavier']) await createUser(s.master.url, s.token, u);
  });
  afterAll(async () => {
    await s?.close();
  });

  const signIn = async (page: Page, username: string, pw: string) => {
    await page.fill('[data-testid="login-username"]', username);
    await page.fill('[data-testid="login-password"]', pw);
    await page.click('[data-testid="login-submit"]');
  };
  const storedToken = (page: Page) => page.evaluate(() => localStorage.getItem('hone.token'));

  it('asks a signed-out visitor to sign in, quotes a refusal, then shows the deep link it was opened on', async () => {
    const ctx = await s.newContext();
    const deep = `/experiments/${s.fx.curves.id}/trials?state=COMPLETED`;
    const { page, errors, requests } = await openPage(ctx, s.master.url + deep, undefined, { ready: false });
    await page.waitForSelector('[data-testid="login-form"]');
    // No token: the form comes up without asking the API anything (and without the boot prefetch).
    expect(requests.filter((r) => r.startsWith('/api/'))).toEqual([]);
    // Signed out, the top bar has neither the navigation nor a user menu.
    expect(await page.$('[data-testid="user-menu"]')).toBeNull();

    await signIn(page, 'ursula', 'not-her-password');
    await page.waitForSelector('[data-testid="login-error"]');
    expect(await page.textContent('[data-testid="login-error"]')).toBe('wrong user name or password');
    expect(await page.inputValue('[data-testid="login-password"]')).toBe('');
    await shot(page, 'login-wrong-password');

    await signIn(page, 'ursula', password('ursula'));
    await page.waitForSelector('[data-testid="trials-tab"] [data-testid="trials-table"] [data-row-id]');
    expect(page.url()).toBe(s.master.url + deep);
    expect(await page.getAttribute('[data-testid="trial-state-filter"] [data-state="COMPLETED"]', 'aria-pressed')).toBe('true');
    expect(await page.textContent('[data-testid="user-name"]')).toBe('ursula');
    expect(await storedToken(page)).toMatch(/^hone_/);
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    await shot(page, 'login-deep-link-returned');
    // On the next visit the user is known at once (kept with the token); /auth/me is asked only after the page drew.
    requests.length = 0;
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    expect(await page.textContent('[data-testid="user-name"]')).toBe('ursula');
    await expect.poll(() => requests.includes('/api/v1/auth/me')).toBe(true);
    expect(requests.indexOf('/api/v1/auth/me')).toBeGreaterThan(requests.indexOf(`/api/v1/experiments/${s.fx.curves.id}`));
    // The only error the console saw is the browser's report of the refused sign-in.
    expect(errors.filter((e) => !/401 \(Unauthorized\)/.test(e))).toEqual([]);
    await ctx.close();
  });

  it('signs out from the user menu: the session is revoked, the form comes back, signing in again goes on', async () => {
    const ctx = await s.newContext();
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments`, undefined, { ready: false });
    await page.waitForSelector('[data-testid="login-form"]');
    await signIn(page, 'victor', password('victor'));
    await page.waitForSelector('[data-testid="experiments-table"] tr[data-experiment-id]');
    const token = (await storedToken(page))!;
    expect((await s.api('/auth/me', { token })).status).toBe(200);

    await page.click('[data-testid="user-button"]');
    await page.waitForSelector('[data-testid="sign-out"]');
    expect(await page.textContent('[data-testid="user-menu"] .user-dropdown-head')).toContain('Signed in as victor');
    await shot(page, 'user-menu');
    await page.click('[data-testid="sign-out"]');
    await page.waitForSelector('[data-testid="login-form"]');
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.textContent('[data-testid="login-reason"]')).toContain('signed out');
    expect(await storedToken(page)).toBeNull();
    await expect.poll(async () => (await s.api('/auth/me', { token })).status, { timeout: 5000 }).toBe(401);
    expect(await page.$('[data-testid="connection"]')).toBeNull();
    await shot(page, 'signed-out');

    // The form remembers who signed in last; from /login the UI goes to the experiments.
    expect(await page.inputValue('[data-testid="login-username"]')).toBe('victor');
    await page.fill('[data-testid="login-password"]', password('victor'));
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('[data-testid="experiments-page"]');
    expect(new URL(page.url()).pathname).toBe('/experiments');
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('goes on to a /login?next= page of this site only', async () => {
    const ctx = await s.newContext();
    const page = await ctx.newPage();
    await page.goto(`${s.master.url}/login?next=${encodeURIComponent('/cluster?x=1')}`);
    await page.waitForSelector('[data-testid="login-form"]');
    await signIn(page, 'wanda', password('wanda'));
    await page.waitForSelector('[data-testid="cluster-page"]');
    expect(page.url()).toBe(`${s.master.url}/cluster?x=1`);
    // Signed in already: /login goes straight on, and never to another site.
    await page.goto(`${s.master.url}/login?next=${encodeURIComponent('//evil.example/steal')}`);
    await page.waitForSelector('[data-testid="experiments-page"]');
    expect(page.url()).toBe(`${s.master.url}/experiments`);
    await ctx.close();
  });

  it('brings the form back over the same page when the session ends mid-way, then carries on live', async () => {
    const ctx = await s.newContext(await apiLogin(s.master.url, 'xavier', password('xavier')));
    const sockets: string[] = [];
    const deep = `/experiments/${s.fx.active.id}?metric=accuracy`;
    const { page, errors } = await openPage(ctx, s.master.url + deep, async (p) => void p.on('websocket', (ws) => sockets.push(ws.url())));
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    const first = (await storedToken(page))!;
    expect(sockets.at(-1)).toContain(`token=${encodeURIComponent(first)}`);

    // The session is revoked elsewhere (as `hone user logout` or an admin would); the next request is refused.
    expect((await s.api('/auth/logout', { method: 'POST', token: first })).status).toBe(204);
    // Navigating to another page makes a request; its 401 brings the form over that page.
    await page.click('nav a[href="/cluster"]');
    await page.waitForSelector('[data-testid="login-form"]');
    expect(await page.textContent('[data-testid="login-reason"]')).toContain('session has ended');
    expect(new URL(page.url()).pathname).toBe('/cluster');
    await shot(page, 'login-session-ended');

    await page.goBack();
    expect(page.url()).toBe(s.master.url + deep);
    await page.waitForSelector('[data-testid="login-form"]');
    await page.fill('[data-testid="login-password"]', password('xavier'));
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('body[data-ready="1"] [data-testid="learning-curves"] canvas');
    expect(page.url()).toBe(s.master.url + deep);
    expect(await page.inputValue('[data-testid="metric-select"]')).toBe('validation\u0000accuracy');
    // The stream connects again, with the new token.
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    const second = (await storedToken(page))!;
    expect(second).not.toBe(first);
    expect(sockets.at(-1)).toContain(`token=${encodeURIComponent(second)}`);
    expect(errors.filter((e) => !/401 \(Unauthorized\)|WebSocket/.test(e))).toEqual([]);
    await ctx.close();
  });

  it('shows the master’s throttling with the time to wait from Retry-After', async () => {
    // The master allows a few attempts a minute per user name and address; these use them up.
    let status = 0;
    for (let i = 0; i < 30 && status !== 429; i++) {
      const r = await fetch(`${s.master.url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'yvonne', password: 'guess' }) });
      status = r.status;
    }
    expect(status).toBe(429);
    const ctx = await s.newContext();
    const { page } = await openPage(ctx, `${s.master.url}/experiments`, undefined, { ready: false });
    await page.waitForSelector('[data-testid="login-form"]');
    await signIn(page, 'yvonne', 'guess');
    await page.waitForSelector('[data-testid="login-retry"]');
    expect(await page.textContent('[data-testid="login-error"]')).toMatch(/too many sign-in attempts/i);
    const seconds = Number(await page.getAttribute('[data-testid="login-retry"]', 'data-seconds'));
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(await page.isDisabled('[data-testid="login-submit"]')).toBe(true);
    expect(await page.textContent('[data-testid="login-submit"]')).toMatch(/^Wait \d+ s$/);
    await shot(page, 'login-throttled');
    await ctx.close();
  });
});
