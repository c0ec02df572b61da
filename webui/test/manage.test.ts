// Managing experiments in the UI, against a real master: the experiment list hides archived experiments unless
// asked and filters by project; project pages; on the experiment page: edit name and description, add and remove
// labels, markdown notes (rendered, never run), archive and unarchive, fork (with the config edited as YAML).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ExperimentDetail, ExperimentSummary, Page as ApiPage } from '@hone/protocol';
import { seedExperiment, type QueryFn, type SeededExperiment } from './seed';
import { createUser } from './master';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

interface Fixture {
  main: SeededExperiment;
  archived: SeededExperiment;
  vision: SeededExperiment;
  nlp: SeededExperiment;
}

/** A model directory as the CLI uploads it: a tar.gz of one entrypoint file. */
function modelDir(): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-model-'));
  fs.writeFileSync(path.join(dir, 'model_def.js'), 'export class MnistTrial {}\n');
  const r = spawnSync('tar', ['-czf', '-', '-C', dir, '.']);
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return r.stdout;
}

const NOTES = `# Findings

- lr **0.01** works best
- dropout above 0.3 hurts

See [the paper](https://example.org/paper) and \`config.yaml\`.

<img src=x onerror="window.__xss='notes'"><b data-xss=notes>raw</b>

[bad link](javascript:window.__xss='link')`;

async function seed(q: QueryFn): Promise<Fixture> {
  const context = modelDir();
  const main = await seedExperiment(q, { name: 'manage-me', trials: 3, points: 5, labels: ['keep', 'drop-me'], description: 'first description', notes: NOTES, context, checkpoints: 1 });
  const archived = await seedExperiment(q, { name: 'old-archived', trials: 1, points: 2, archived: true, project: 'vision' });
  const vision = await seedExperiment(q, { name: 'vision-resnet', trials: 2, points: 2, project: 'vision' });
  const nlp = await seedExperiment(q, { name: 'nlp-bert', trials: 2, points: 2, project: 'nlp' });
  return { main, archived, vision, nlp };
}

describeBrowser('managing experiments (browser)', () => {
  let s: UiSession<Fixture>;
  beforeAll(async () => {
    s = await startUiSession(seed);
  });
  afterAll(async () => {
    await s?.close();
  });

  const getJson = async <T>(p: string): Promise<T> => {
    const r = await s.api(p);
    expect(r.status, p).toBe(200);
    return (await r.json()) as T;
  };
  const listed = (page: Page) => page.$$eval('[data-testid="experiments-table"] tbody tr[data-experiment-id]', (trs) => trs.map((tr) => Number(tr.getAttribute('data-experiment-id'))));

  it('hides archived experiments unless shown, filters by project, and shows project pages', async () => {
    const { main, archived, vision, nlp } = s.fx;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/experiments`);
    expect((await listed(page)).sort()).toEqual([main.id, vision.id, nlp.id].sort());
    await page.check('[data-testid="show-archived"]');
    await page.waitForFunction((id) => !!document.querySelector(`tr[data-experiment-id="${id}"][data-archived="true"]`), archived.id);
    expect(await page.textContent(`tr[data-experiment-id="${archived.id}"]`)).toContain('archived');
    await shot(page, 'experiments-archived-shown');
    await page.uncheck('[data-testid="show-archived"]');
    await page.waitForFunction((id) => !document.querySelector(`tr[data-experiment-id="${id}"]`), archived.id);

    // Project filter: the select lists the projects; the URL keeps it.
    await page.selectOption('[data-testid="filter-project"]', 'vision');
    await page.waitForFunction(() => location.search.includes('project=vision'));
    await page.waitForFunction((id) => document.querySelectorAll('[data-testid="experiments-table"] tbody tr[data-experiment-id]').length === 1 && !!document.querySelector(`tr[data-experiment-id="${id}"]`), vision.id);

    // The project column links to the project page, which lists the project's experiments (archived on request).
    await page.click(`tr[data-experiment-id="${vision.id}"] a[href="/projects/vision"]`);
    await page.waitForSelector('[data-testid="project-page"][data-project="vision"]');
    await page.waitForFunction((id) => !!document.querySelector(`[data-testid="experiments-table"] tr[data-experiment-id="${id}"]`), vision.id);
    expect(await listed(page)).toEqual([vision.id]);
    await page.check('[data-testid="show-archived"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="experiments-table"] tbody tr[data-experiment-id]').length === 2);
    await shot(page, 'project-page');

    // The projects list, and a new project made there.
    await page.click('nav a[href="/projects"]');
    await page.waitForSelector('[data-testid="projects-table"] tr[data-project="nlp"]');
    const names = await page.$$eval('[data-testid="projects-table"] tr[data-project]', (trs) => trs.map((t) => t.getAttribute('data-project')));
    expect(names).toEqual(expect.arrayContaining(['default', 'nlp', 'vision']));
    await page.fill('[data-testid="new-project-name"]', 'speech');
    await page.fill('[data-testid="new-project-description"]', 'ASR models');
    await page.click('[data-testid="create-project"]');
    await page.waitForSelector('[data-testid="project-page"][data-project="speech"]');
    const p = await getJson<{ name: string; description: string }>('/projects/speech');
    expect(p.description).toBe('ASR models');
    await shot(page, 'projects');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('edits the name and description, adds and removes labels', async () => {
    const { main } = s.fx;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/experiments/${main.id}/trials`);
    await page.click('[data-testid="experiment-manage"] [data-action="edit"]');
    await page.waitForSelector('[data-testid="edit-dialog"][open]');
    await page.fill('[data-testid="edit-name"]', 'manage-me-renamed');
    await page.fill('[data-testid="edit-description"]', 'a better description');
    await page.click('[data-testid="edit-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('[data-testid="edit-dialog"]', { state: 'detached' });
    await page.waitForFunction(() => document.querySelector('.exp-title h1')?.textContent?.includes('manage-me-renamed'));
    expect(await page.textContent('[data-testid="description"]')).toBe('a better description');
    let e = await getJson<ExperimentSummary>(`/experiments/${main.id}`);
    expect(e.name).toBe('manage-me-renamed');
    expect(e.description).toBe('a better description');

    await page.fill('[data-testid="add-label"]', 'best-run');
    await page.press('[data-testid="add-label"]', 'Enter');
    await page.waitForSelector('[data-testid="labels"] [data-label="best-run"]');
    await page.click('[data-testid="labels"] [data-remove-label="drop-me"]');
    await page.waitForSelector('[data-testid="labels"] [data-label="drop-me"]', { state: 'detached' });
    e = await getJson<ExperimentSummary>(`/experiments/${main.id}`);
    expect(e.labels).toEqual(['keep', 'best-run']);
    await shot(page, 'experiment-edited');

    // Delete is offered exactly when the master has DELETE /experiments/:id (its OpenAPI document says).
    const spec = await getJson<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json');
    const hasDelete = !!spec.paths['/api/v1/experiments/{id}']?.delete;
    expect(spec.paths['/api/v1/experiments/{id}']?.patch).toBeTruthy(); // the path is spelt as the UI reads it
    await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/api/v1/openapi.json') && (e as PerformanceResourceTiming).responseEnd > 0));
    await page.waitForTimeout(200);
    expect(!!(await page.$('[data-testid="experiment-manage"] [data-action="delete"]'))).toBe(hasDelete);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('renders markdown notes safely and saves edits', async () => {
    const { main } = s.fx;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/experiments/${main.id}/notes`);
    await page.waitForSelector('[data-testid="notes"][data-rendered="true"]');
    expect(await page.textContent('[data-testid="notes"] h1')).toBe('Findings');
    expect(await page.$$eval('[data-testid="notes"] li', (l) => l.length)).toBe(2);
    expect(await page.textContent('[data-testid="notes"] strong')).toBe('0.01');
    expect(await page.getAttribute('[data-testid="notes"] a[href^="https://example.org"]', 'rel')).toContain('noopener');
    // Raw HTML is shown as text, a javascript: link is no link.
    await page.waitForTimeout(200);
    const inert = await page.evaluate(() => ({
      xss: (window as unknown as { __xss?: unknown }).__xss,
      marked: document.querySelectorAll('[data-xss], [data-testid="notes"] img').length,
      js: [...document.querySelectorAll('[data-testid="notes"] a')].filter((a) => !/^https?:/.test(a.getAttribute('href') ?? '')).length,
      text: document.querySelector('[data-testid="notes"]')!.textContent,
    }));
    expect(inert.xss).toBeUndefined();
    expect(inert.marked).toBe(0);
    expect(inert.js).toBe(0);
    expect(inert.text).toContain(`<b data-xss=notes>raw</b>`);
    expect(inert.text).toContain('bad link');
    await shot(page, 'experiment-notes');

    await page.click('[data-testid="edit-notes"]');
    await page.fill('[data-testid="notes-input"]', '## Next\n\n1. try `lr=0.02`\n2. longer training');
    await page.click('[data-testid="save-notes"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="notes"] h2')?.textContent === 'Next');
    expect(await page.$$eval('[data-testid="notes"] ol li', (l) => l.map((x) => x.textContent))).toEqual(['try lr=0.02', 'longer training']);
    const d = await getJson<ExperimentDetail>(`/experiments/${main.id}`);
    expect(d.notes).toBe('## Next\n\n1. try `lr=0.02`\n2. longer training');
    // Reloaded, the notes come from the master.
    await page.reload();
    await page.waitForSelector('[data-testid="notes"][data-rendered="true"] h2');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('archives and unarchives from the experiment page', async () => {
    const { main } = s.fx;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/experiments/${main.id}/trials`);
    await page.click('[data-testid="experiment-manage"] [data-action="archive"]');
    await page.waitForSelector('[data-testid="archive-dialog"][open]');
    await page.click('[data-testid="archive-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('.exp-title [data-testid="archived-badge"]');
    expect((await getJson<ExperimentSummary>(`/experiments/${main.id}`)).archived).toBe(true);
    const list = await getJson<ApiPage<ExperimentSummary>>('/experiments?limit=100');
    expect(list.items.map((x) => x.id)).not.toContain(main.id);
    await shot(page, 'experiment-archived');
    await page.click('[data-testid="experiment-manage"] [data-action="unarchive"]');
    await page.click('[data-testid="archive-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('.exp-title [data-testid="archived-badge"]', { state: 'detached' });
    expect((await getJson<ExperimentSummary>(`/experiments/${main.id}`)).archived).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lets a user who does not own the experiment fork it, but not edit, label, archive or write its notes', async () => {
    const { main } = s.fx;
    const token = await createUser(s.master.url, s.token, 'dora');
    const ctx = await s.newContext(token);
    const { page, errors } = await openPage(ctx, `${s.master.url}/experiments/${main.id}/notes`);
    await page.waitForSelector('[data-testid="experiment-manage"]');
    // Who is signed in is asked after the page draws; the buttons then say why they are off.
    await page.waitForSelector('[data-testid="experiment-manage"] [data-action="edit"]:disabled');
    expect(await page.isEnabled('[data-testid="experiment-manage"] [data-action="fork"]')).toBe(true);
    expect(await page.isDisabled('[data-testid="experiment-manage"] [data-action="archive"]')).toBe(true);
    expect(await page.getAttribute('[data-testid="experiment-manage"] .action-wrap:has([data-action="edit"])', 'title')).toContain('Only the owner (admin) or an admin');
    expect(await page.isDisabled('[data-testid="edit-notes"]')).toBe(true);
    expect(await page.$$('[data-testid="labels"] [data-remove-label], [data-testid="add-label"]')).toHaveLength(0);
    // The master refuses too: a non-owner's edit is a 403 naming the rule.
    const r = await s.api(`/experiments/${main.id}`, { method: 'PATCH', json: { name: 'hijacked' }, token });
    expect(r.status).toBe(403);
    await shot(page, 'experiment-not-owner');
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('forks an experiment with its config edited as YAML', async () => {
    const { main } = s.fx;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/experiments/${main.id}/config`);
    await page.click('[data-testid="experiment-manage"] [data-action="fork"]');
    await page.waitForSelector('[data-testid="fork-dialog"][open]');
    await page.check('[data-testid="fork-edit-config"]');
    const yaml = await page.inputValue('[data-testid="fork-config"]');
    expect(yaml).toContain('max_length');
    await page.fill('[data-testid="fork-config"]', yaml.replace(/^name: .*$/m, 'name: "manage-me-fork"').replace(/max_trials: \d+/, 'max_trials: 2'));
    await shot(page, 'fork-dialog');
    await page.click('[data-testid="fork-dialog"] [data-testid="confirm"]');
    await page.waitForFunction((id) => /^\/experiments\/\d+/.test(location.pathname) && !location.pathname.startsWith(`/experiments/${id}/`) && location.pathname !== `/experiments/${id}`, main.id);
    const forkId = Number(/^\/experiments\/(\d+)/.exec(new URL(page.url()).pathname)![1]);
    await page.waitForSelector(`[data-testid="experiment-page"][data-experiment-id="${forkId}"] [data-testid="forked-from"]`);
    expect(await page.textContent('[data-testid="forked-from"]')).toContain(`experiment ${main.id}`);
    const fork = await getJson<ExperimentDetail>(`/experiments/${forkId}`);
    expect(fork.forkedFrom).toBe(main.id);
    expect(fork.name).toBe('manage-me-fork');
    expect(fork.config.searcher.max_trials).toBe(2);
    await shot(page, 'experiment-forked');
    expect(errors).toEqual([]);
    await page.close();
  });
});
