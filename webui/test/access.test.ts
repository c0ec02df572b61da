// Who may do what, in the browser against the real master: actions on someone else's experiment are disabled
// with the reason, a refusal by the master (403) is a message in place, and the experiment page tells who
// created, paused, activated, killed or rescheduled it, and when (its audit log, live).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { seedExperiment, type QueryFn, type SeededExperiment } from './seed';
import { apiLogin, createUser } from './master';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

interface Fixture {
  aliceActive: SeededExperiment;
  bobActive: SeededExperiment;
  bobPaused: SeededExperiment;
}

async function seed(q: QueryFn): Promise<Fixture> {
  const aliceActive = await seedExperiment(q, { name: 'alice-sweep', state: 'ACTIVE', trials: 3, points: 5, owner: 'alice', audit: [{ username: 'alice', action: 'create', details: { name: 'alice-sweep' }, minutesAgo: 30 }] });
  const bobActive = await seedExperiment(q, {
    name: 'bob-sweep',
    state: 'ACTIVE',
    trials: 3,
    points: 5,
    owner: 'bob',
    audit: [
      { username: 'bob', action: 'create', details: { name: 'bob-sweep' }, minutesAgo: 50 },
      { username: 'bob', action: 'pause', minutesAgo: 40 },
      { username: 'admin', action: 'activate', minutesAgo: 30 },
      { username: 'admin', action: 'set priority', details: { from: 42, to: 10 }, minutesAgo: 20 },
    ],
  });
  const bobPaused = await seedExperiment(q, { name: 'bob-paused', state: 'PAUSED', trials: 2, points: 3, owner: 'bob' });
  return { aliceActive, bobActive, bobPaused };
}

describeBrowser('permissions and audit (browser)', () => {
  let s: UiSession<Fixture>;
  let alice: string;

  beforeAll(async () => {
    s = await startUiSession(seed);
    alice = await createUser(s.master.url, s.token, 'alice');
    await createUser(s.master.url, s.token, 'bob');
    await createUser(s.master.url, s.token, 'carl', { admin: true });
  });
  afterAll(async () => {
    await s?.close();
  });

  const row = (id: number) => `[data-testid="experiments-table"] tr[data-experiment-id="${id}"]`;
  const auditRows = (page: Page) =>
    page.$$eval('[data-testid="audit"] tbody tr[data-action]', (trs) => trs.map((tr) => [tr.querySelector('.audit-user')!.textContent, tr.querySelector('.audit-action')!.textContent, tr.querySelector('.audit-details')!.textContent].join(' | ')));

  it('disables the actions on experiments the user neither owns nor administers, saying why', async () => {
    const ctx = await s.newContext(alice);
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments`);
    await page.waitForFunction(() => document.querySelector('[data-testid="user-name"]')?.textContent === 'alice');
    // Her own: enabled. Bob's: disabled, with the rule and who she is as the tooltip.
    for (const a of ['pause', 'kill']) expect(await page.isEnabled(`${row(s.fx.aliceActive.id)} [data-action="${a}"]`)).toBe(true);
    for (const [id, actions] of [[s.fx.bobActive.id, ['pause', 'kill']], [s.fx.bobPaused.id, ['activate', 'kill']]] as const)
      for (const a of actions) {
        const sel = `${row(id)} [data-action="${a}"]`;
        expect(await page.isDisabled(sel)).toBe(true);
        expect(await page.getAttribute(sel, 'title')).toBe(`Only the owner (bob) or an admin can ${a} this experiment; you are signed in as alice.`);
        expect(await page.getAttribute(`${row(id)} .action-wrap:has([data-action="${a}"])`, 'title')).toContain('Only the owner (bob) or an admin');
      }
    expect(await page.textContent(`${row(s.fx.bobActive.id)} [data-testid="owner"]`)).toBe('bob');
    await shot(page, 'permissions-list');

    // The same on the experiment page.
    await page.goto(`${s.master.url}/experiments/${s.fx.bobActive.id}`);
    await page.waitForSelector('body[data-ready="1"]');
    expect(await page.isDisabled('.exp-title [data-action="pause"]')).toBe(true);
    expect(await page.getAttribute('.exp-title [data-action="kill"]', 'title')).toContain('Only the owner (bob) or an admin can kill');
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('shows who created, paused, activated and changed an experiment, and when', async () => {
    const ctx = await s.newContext(alice);
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments/${s.fx.bobActive.id}/activity`);
    await page.waitForSelector('[data-testid="audit"] tbody tr[data-action]');
    expect(await auditRows(page)).toEqual([
      'admin | set priority | from 42 to 10',
      'admin | activated the experiment | ',
      'bob | paused the experiment | ',
      'bob | created the experiment | name: bob-sweep',
    ]);
    // Every row has its time; the header names the latest change.
    const times = await page.$$eval('[data-testid="audit"] tbody tr[data-action] td:first-child', (tds) => tds.map((td) => td.getAttribute('title')));
    expect(times.every((t) => t && !Number.isNaN(Date.parse(t)))).toBe(true);
    expect(await page.textContent('[data-testid="last-change"]')).toMatch(/^Last change: admin set priority \(from 42 to 10\) · /);
    expect(await page.textContent('[data-tab="activity"]')).toBe('Activity (4)');
    await shot(page, 'experiment-activity');
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('records the owner’s own action and one made elsewhere, live', async () => {
    const ctx = await s.newContext(alice);
    const id = s.fx.aliceActive.id;
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments/${id}/activity`);
    await page.waitForSelector('[data-testid="connection"][data-status="open"]');
    expect(await auditRows(page)).toEqual(['alice | created the experiment | name: alice-sweep']);
    await page.click('.exp-title [data-action="pause"]');
    await page.click('[data-testid="confirm-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('[data-testid="confirm-dialog"]', { state: 'detached' });
    await page.waitForFunction(() => document.querySelector('[data-testid="audit"] tbody tr[data-action]')?.getAttribute('data-action') === 'pause', undefined, { timeout: 10_000 });
    expect((await auditRows(page))[0]).toBe('alice | paused the experiment | ');

    // An admin activates it from elsewhere (the CLI, another browser): the page learns of it on the stream.
    expect((await s.api(`/experiments/${id}/activate`, { method: 'POST' })).status).toBe(200);
    await page.waitForFunction(() => document.querySelector('[data-testid="audit"] tbody tr[data-action]')?.getAttribute('data-action') === 'activate', undefined, { timeout: 10_000 });
    expect(await auditRows(page)).toEqual(['admin | activated the experiment | ', 'alice | paused the experiment | ', 'alice | created the experiment | name: alice-sweep']);
    expect(await page.textContent('[data-testid="last-change"]')).toMatch(/^Last change: admin activated the experiment · /);
    await shot(page, 'experiment-activity-live');
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('shows a refusal by the master as a message in place, not an error page', async () => {
    // Carl is an admin when the page loads (the buttons are enabled), and is demoted before he clicks.
    const carl = await apiLogin(s.master.url, 'carl', 'carl-password-1234');
    const ctx = await s.newContext(carl);
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments`);
    await page.waitForFunction(() => document.querySelector('[data-testid="user-name"]')?.textContent === 'carl');
    expect(await page.isEnabled(`${row(s.fx.bobActive.id)} [data-action="pause"]`)).toBe(true);
    expect((await s.api('/users/carl', { method: 'PATCH', json: { admin: false } })).status).toBe(200);
    await expect.poll(async () => ((await (await s.api('/auth/me', { token: carl })).json()) as { admin: boolean }).admin, { timeout: 10_000 }).toBe(false);

    await page.click(`${row(s.fx.bobActive.id)} [data-action="pause"]`);
    await page.click('[data-testid="confirm-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('[data-testid="confirm-dialog"] .error-box');
    const msg = await page.textContent('[data-testid="confirm-dialog"] .error-box');
    expect(msg).toMatch(new RegExp(`^Not allowed to pause experiment ${s.fx.bobActive.id}: .*owner \\(bob\\) or an admin`));
    await shot(page, 'permission-denied-message');
    // Still the list, still signed in; cancelling leaves the experiment as it was.
    await page.click('[data-testid="confirm-dialog"] button:has-text("Cancel")');
    expect(await page.$('[data-testid="login-form"]')).toBeNull();
    expect(await page.getAttribute(row(s.fx.bobActive.id), 'data-state')).toBe('ACTIVE');
    // The refusal made the UI ask who Carl is now: the buttons say he may no longer, and the menu drops "admin".
    await page.waitForSelector(`${row(s.fx.bobActive.id)} [data-action="pause"][data-denied="true"]`);
    expect(await page.$('[data-testid="user-menu"] .user-admin')).toBeNull();
    expect(((await (await s.api(`/experiments/${s.fx.bobActive.id}`)).json()) as { state: string }).state).toBe('ACTIVE');
    expect(errors.filter((e) => !/403 \(Forbidden\)/.test(e))).toEqual([]);
    await ctx.close();
  });
});
