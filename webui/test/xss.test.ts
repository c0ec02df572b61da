// Stored text never runs as markup. Every place the UI shows text that someone stored — experiment names,
// descriptions, labels, owners, pools, hyperparameter keys and values, metric names, failures, a run's exit and
// last error, log lines (stored and live), audit entries, agents — is seeded with markup whose only effect, if it
// were ever parsed, is to set window.__xss or leave an element marked data-xss. Every page that shows them is
// loaded with the CSP switched off (bypassCSP), so that the test sees what the UI itself does, not what the
// master's policy would still catch; the text must appear as it was written. A second test checks that the strict
// CSP every other browser test runs under is really in force.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { seedAllocations, seedExperiment, type QueryFn, type SeededExperiment } from './seed';
import { fakeAgent } from './browser';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

/** Markup that would mark the page and set window.__xss = `field` if it were ever parsed as HTML. */
const P = (field: string) => `"'><img src=x data-xss=${field} onerror="window.__xss='${field}'"><script>window.__xss='${field}'</script><b data-xss=${field}>${field}</b>`;

interface Fixture {
  exp: SeededExperiment;
  failed: number;
  live: number;
}

async function seed(q: QueryFn): Promise<Fixture> {
  const exp = await seedExperiment(q, {
    name: P('name'),
    description: P('description'),
    // Markdown notes with raw HTML in a paragraph, a heading, a list, a link text and a javascript: link.
    notes: `${P('notes')}\n\n# ${P('noteshead')}\n\n- ${P('noteslist')}\n\n[${P('noteslink')}](javascript:window.__xss='href')`,
    labels: [P('label'), 'plain-label'],
    owner: P('owner'),
    pool: P('pool'),
    state: 'ACTIVE',
    trials: 3,
    points: 6,
    checkpoints: 1,
    hyperparameters: `  ${JSON.stringify(P('hpkey'))}: { type: categorical, vals: [${JSON.stringify(P('hpval'))}, plain] }
  lr: { type: log, minval: -4, maxval: -1, base: 10 }`,
    trial: (i) => ({
      state: i === 1 ? 'ERROR' : i === 2 ? 'ACTIVE' : 'COMPLETED',
      hparams: { [P('hpkey')]: i === 1 ? P('hpval') : 'plain', lr: 0.001 * i, nested: { [P('nestedkey')]: P('nestedval') } },
      failure: i === 1 ? P('failure') : null,
      latestValidation: { loss: 0.3 + i / 10, [P('metric')]: 0.25 * i },
    }),
    audit: [
      { username: 'admin', action: 'create', details: { name: P('auditname') }, minutesAgo: 10 },
      { username: P('audituser'), action: P('auditaction'), details: { [P('auditkey')]: P('auditvalue') }, minutesAgo: 5 },
    ],
  });
  const [failed, live] = exp.trialIds as [number, number];
  // A metric whose name is markup, reported by two trials (metric names, the metric picker, the trial's charts);
  // merged into the points the seed stored at those steps, as the master merges a second report at a step.
  await q(
    `INSERT INTO metrics AS m (trial_id, grp, steps_completed, metrics, reported_at)
     SELECT t, 'validation', k * 100, jsonb_build_object($2::text, 0.1 * k), now() FROM unnest($1::bigint[]) t, generate_series(1, 3) k
     ON CONFLICT (trial_id, grp, steps_completed) WHERE NOT superseded DO UPDATE SET metrics = m.metrics || EXCLUDED.metrics`,
    [[failed, live], P('metric')],
  );
  await q(
    `INSERT INTO task_logs (trial_id, allocation_id, agent_id, rank, stream, level, ts, line)
     SELECT $1, 'run-x', 'agent-x', 0, 'stdout', CASE WHEN n = 2 THEN $3 ELSE 'INFO' END, now() - make_interval(secs => 60 - n), $2 || ' #' || n FROM generate_series(1, 3) n`,
    [failed, P('logline'), P('loglevel')],
  );
  await seedAllocations(q, [
    { id: 'run-x', trialId: failed, experimentId: exp.id, state: 'TERMINATED', slots: 1, pool: P('pool'), placement: [{ agentId: P('agentid'), devices: [0] }], startedMinutesAgo: 9, endedMinutesAgo: 8, exitCode: 1, exitReason: P('exitreason'), lastError: P('lasterror'), failed: true },
    { id: `alloc-${live}`, trialId: live, experimentId: exp.id, state: 'RUNNING', slots: 1, pool: P('pool'), placement: [{ agentId: 'agent-x', devices: [0] }] },
  ]);
  await q(`INSERT INTO agents (id, resource_pool, hostname, devices, version, connected, last_seen) VALUES ($1, $2, $3, $4, $5, false, now())`, [
    P('agent'),
    P('pool'),
    P('hostname'),
    JSON.stringify([{ id: 0, type: 'gpu', brand: P('brand'), uuid: 'GPU-x-0' }]),
    P('version'),
  ]);
  await q(`INSERT INTO agents (id, resource_pool, hostname, devices, version, connected, last_seen) VALUES ('agent-x', $1, 'x.cluster.local', $2, '0.1.0', false, now())`, [
    P('pool'),
    JSON.stringify([{ id: 0, type: 'gpu', brand: 'NVIDIA A100', uuid: 'GPU-agent-x-0' }]),
  ]);
  return { exp, failed, live };
}

describeBrowser('stored text is shown, never run (browser)', () => {
  let s: UiSession<Fixture>;
  let ctx: BrowserContext;
  let agent: { close: () => void } | undefined;

  beforeAll(async () => {
    s = await startUiSession(seed);
    // No CSP at all: an injected handler would run, so window.__xss tells.
    ctx = await s.browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true, storageState: { cookies: [], origins: [{ origin: new URL(s.master.url).origin, localStorage: [{ name: 'hone.token', value: s.token }] }] } });
    agent = await fakeAgent(s.master.url, { id: 'agent-x', gpus: 1, running: [{ allocationId: `alloc-${s.fx.live}`, rank: 0, pid: 4242 }] });
  });
  afterAll(async () => {
    agent?.close();
    await ctx?.close();
    await s?.close();
  });

  /** Nothing ran, nothing was parsed into elements, and the page's text holds each field's payload as written. */
  async function expectInert(page: Page, fields: string[], where: string): Promise<void> {
    await page.waitForTimeout(200); // an image's onerror fires after its failed load
    const state = await page.evaluate(() => ({
      xss: (window as unknown as { __xss?: unknown }).__xss,
      marked: [...document.querySelectorAll('[data-xss]')].map((e) => e.outerHTML),
      inlineScripts: [...document.querySelectorAll('script:not([src])')].map((e) => e.outerHTML),
      text: document.body.innerText + '\n' + [...document.querySelectorAll('[title]')].map((e) => e.getAttribute('title')).join('\n') + '\n' + [...document.querySelectorAll('svg text, option')].map((e) => e.textContent).join('\n'),
    }));
    expect(state.xss, where).toBeUndefined();
    expect(state.marked, where).toEqual([]);
    expect(state.inlineScripts, where).toEqual([]);
    for (const f of fields) expect(state.text.includes(P(f)), `${where}: ${f} shown as written`).toBe(true);
  }

  it('on the experiment list, and in the kill dialog', async () => {
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments`);
    await expectInert(page, ['name', 'owner', 'pool'], 'experiment list');
    await page.click(`tr[data-experiment-id="${s.fx.exp.id}"] [data-action="kill"]`);
    await page.waitForSelector('[data-testid="confirm-dialog"][open]');
    await expectInert(page, ['name'], 'kill dialog');
    await shot(page, 'xss-experiments');
    await page.click('[data-testid="confirm-dialog"] button:has-text("Cancel")');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('on every tab of the experiment page, and in its CSV exports', async () => {
    const id = s.fx.exp.id;
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments/${id}`);
    await expectInert(page, ['name', 'description', 'label', 'owner', 'pool', 'hpkey', 'auditaction', 'audituser', 'auditkey', 'auditvalue'], 'curves tab');
    await shot(page, 'xss-experiment');
    // The metric picker lists the markup metric; choosing it draws its curves and names it in the legend.
    const option = await page.$$eval('[data-testid="metric-select"] option', (os, m) => os.find((o) => o.textContent === `validation ${m}`)?.getAttribute('value'), P('metric'));
    expect(option).toBeTruthy();
    await page.selectOption('[data-testid="metric-select"]', option!);
    await page.waitForSelector('[data-testid="learning-curves"] canvas');
    await expectInert(page, ['metric'], 'curves of the markup metric');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-trials"]')]);
    const csv = fs.readFileSync((await download.path())!, 'utf8');
    // Quoted as CSV (the payload has quotes), never turned into anything else; a cell is not a formula.
    expect(csv).toContain(`"${P('hpkey').replace(/"/g, '""')}"`);
    expect(csv).toContain(`"${P('failure').replace(/"/g, '""')}"`);

    for (const [tab, fields] of [
      ['trials', ['hpkey', 'hpval', 'nestedval', 'failure', 'metric']],
      ['hyperparameters', ['hpkey', 'hpval']],
      ['config', []],
      ['notes', []],
      ['activity', ['audituser', 'auditaction', 'auditkey', 'auditvalue', 'auditname']],
    ] as const) {
      await page.click(`[data-tab="${tab}"]`);
      await page.waitForSelector(`[data-tab="${tab}"][aria-selected="true"]`);
      if (tab === 'notes') {
        await page.waitForSelector('[data-testid="notes"][data-rendered="true"] h1');
        expect(await page.$$eval('[data-testid="notes"] a', (as) => as.length)).toBe(0);
      }
      if (tab === 'hyperparameters') {
        await page.waitForSelector('[data-testid="parallel-coordinates"] path[data-trial-id]');
        // Hovering a trial's point names its value in the scatter's tip and in the highlight line.
        await page.locator('figure.scatter', { hasText: 'data-xss=hpkey' }).locator(`circle[data-trial-id="${s.fx.failed}"]`).hover();
        await page.waitForSelector('[data-testid="hp-highlight"]');
      }
      await expectInert(page, [...fields], `${tab} tab`);
      // The config is shown as the YAML that was submitted, where these strings are quoted.
      if (tab === 'config') {
        const yaml = (await page.textContent('[data-testid="config-yaml"]'))!;
        for (const f of ['name', 'description', 'label', 'pool', 'hpkey', 'hpval']) expect(yaml).toContain(JSON.stringify(P(f)));
      }
      await shot(page, `xss-experiment-${tab}`);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('on the trial page: hyperparameters, metrics, failure, runs, and log lines stored and live', async () => {
    const { page, errors } = await openPage(ctx, `${s.master.url}/trials/${s.fx.failed}`);
    await expectInert(page, ['hpkey', 'hpval', 'nestedkey', 'nestedval', 'metric', 'failure', 'exitreason', 'lasterror', 'agentid'], 'trial overview');
    await shot(page, 'xss-trial');
    await page.click('[data-tab="logs"]');
    await page.waitForSelector('[data-testid="log-lines"] [data-log-id]');
    await expectInert(page, ['loglevel'], 'trial logs');
    const lines = await page.$$eval('[data-testid="log-lines"] .log-text', (ls) => ls.map((l) => l.textContent));
    expect(lines).toEqual([1, 2, 3].map((n) => `${P('logline')} #${n}`));
    await shot(page, 'xss-trial-logs');
    await page.close();

    // A line that arrives on the live stream.
    const live = await openPage(ctx, `${s.master.url}/trials/${s.fx.live}/logs`);
    await live.page.waitForSelector('[data-testid="connection"][data-status="open"]');
    const res = await fetch(`${s.master.url}/api/v1/trials/${s.fx.live}/logs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer tok-alloc-${s.fx.live}` },
      body: JSON.stringify({ lines: [{ line: P('liveline'), level: 'ERROR' }] }),
    });
    expect(res.status).toBe(200);
    await live.page.waitForFunction(() => document.querySelectorAll('[data-testid="log-lines"] .log-text').length > 0);
    await expectInert(live.page, ['liveline'], 'live log line');
    expect(errors).toEqual([]);
    expect(live.errors).toEqual([]);
    await live.page.close();
  });

  it('on the cluster page: agents, pools, devices and the job queue', async () => {
    const { page, errors } = await openPage(ctx, `${s.master.url}/cluster`);
    await page.waitForSelector('[data-testid="agents"] tr[data-agent]');
    await expectInert(page, ['agent', 'hostname', 'pool', 'brand', 'version'], 'cluster');
    await shot(page, 'xss-cluster');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('runs every other browser test under a strict CSP that is really in force', async () => {
    const strict = await s.newContext(s.token);
    const { page, errors } = await openPage(strict, `${s.master.url}/experiments`, async (p) => {
      await p.addInitScript(() => {
        const w = window as unknown as { __violations: string[] };
        w.__violations = [];
        document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(e.violatedDirective));
      });
    });
    // The page itself drew without a single violation (uPlot and React set styles through the CSSOM, which
    // style-src does not govern; no inline script, no eval, no data: image).
    expect(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)).toEqual([]);
    const csp = await page.evaluate(() => {
      const w = window as unknown as { __violations: string[]; __csp?: number };
      document.body.insertAdjacentHTML('beforeend', '<img src="/favicon.svg?x" onload="window.__csp=1" onerror="window.__csp=1"><span style="color:red">x</span>');
      // Later, from the page's own task (DevTools lets code it evaluates itself use eval).
      return new Promise<{ handler: unknown; evalRan: boolean; violations: string[] }>((r) =>
        setTimeout(() => {
          let evalRan = false;
          try {
            evalRan = new Function('return true')() as boolean;
          } catch {
            /* refused */
          }
          setTimeout(() => r({ handler: w.__csp, evalRan, violations: w.__violations }), 300);
        }, 0),
      );
    });
    expect(csp.handler).toBeUndefined();
    expect(csp.evalRan).toBe(false);
    expect(csp.violations).toEqual(expect.arrayContaining(['script-src-attr', 'style-src-attr', 'script-src']));
    expect(errors.some((e) => /Content Security Policy/.test(e))).toBe(true);
    await strict.close();
  });
});
