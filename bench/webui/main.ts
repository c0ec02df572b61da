// `npm run bench:webui`: how fast the experiment page of a large experiment becomes usable, and how many
// bytes it downloads. Seeds 1,000 trials × 200 validation points, starts a real master, loads
// /experiments/:id in headless Chromium with an empty cache and waits for the page's `hone:ready` mark
// (trials table rendered and learning curves drawn). Bytes are summed from CDP Network.loadingFinished
// (encoded, on the wire, headers included) plus WebSocket frames.
// Baselines measured in the same run: the same page for a 10-trial experiment (time ratio), and what the
// curves request would weigh at full resolution without the UI's point budget (bytes ratio).
// Then the runs view (/experiments?view=runs) over BENCH_RUN_COUNT (10,000) trials across experiments: time to
// usable (first window of rows drawn, `hone:ready`), target ≤ 1.5 s, with the same view over one 100-run project
// as the baseline; it also checks that only the visible rows are in the DOM and times a jump to the last row.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { seedExperiment } from '../../webui/test/seed';
import { REPO_ROOT, apiLogin, seedDatabase, startMaster, tempDataDir } from '../../webui/test/master';
import { browserUnavailable, ensureBuilt, launchBrowser } from '../../webui/test/browser';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 1000);
const POINTS = Number(process.env.BENCH_POINTS ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RUN_COUNT = Number(process.env.BENCH_RUN_COUNT ?? 10_000);
/** Trials per experiment in the runs list: 100 experiments of 100 trials by default. */
const RUNS_PER_EXPERIMENT = Number(process.env.BENCH_RUNS_PER_EXPERIMENT ?? 100);
const RUNS_TARGET_MS = 1500;

interface Load {
  ms: number;
  bytes: number;
  requests: number;
  series: number;
  rows: number;
  /** When the last API response the page needed had arrived (ms since navigation start). */
  lastApiEnd: number;
  api: Array<{ name: string; start: number; end: number }>;
}

/** The admin's session (the master requires one; webui/test/master.ts starts it with HONE_ADMIN_PASSWORD). */
let TOKEN = '';
async function loadOnce(browser: Browser, url: string, screenshot?: string): Promise<Load> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: { cookies: [], origins: [{ origin: new URL(url).origin, localStorage: [{ name: 'hone.token', value: TOKEN }] }] } });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let bytes = 0;
  let requests = 0;
  cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => {
    bytes += e.encodedDataLength;
    requests++;
  });
  cdp.on('Network.webSocketFrameReceived', (e: { response: { payloadData: string } }) => (bytes += e.response.payloadData.length));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
  const ms = await page.evaluate(() => performance.getEntriesByName('hone:ready')[0]?.startTime ?? performance.now());
  // Split the time: when the last API response the page waited for ended, and what the browser did after it.
  const api = await page.evaluate(() =>
    (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
      .filter((e) => e.name.includes('/api/v1/'))
      .map((e) => ({ name: new URL(e.name).pathname + new URL(e.name).search, start: e.startTime, end: e.responseEnd })),
  );
  const lastApiEnd = Math.max(0, ...api.filter((a) => a.end <= ms).map((a) => a.end));
  await page.waitForTimeout(300); // let in-flight responses (favicon, late frames) finish counting
  const series = Number(await page.getAttribute('[data-testid="learning-curves"]', 'data-series'));
  const rows = Number(await page.getAttribute('[data-testid="trials-table"]', 'data-rows'));
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  if (screenshot) {
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
  }
  await ctx.close();
  return { ms, bytes, requests, series, rows, lastApiEnd, api };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface RunsLoad {
  ms: number;
  api: Array<{ name: string; start: number; end: number }>;
  rows: number;
  domRows: number;
  bytes: number;
  /** Scrolling to the last row until it is loaded and drawn. */
  lastRowMs: number;
}

/** Loads the runs view, waits until it is usable, counts the rows in the DOM, then jumps to the last row. */
async function loadRuns(browser: Browser, url: string, screenshot?: string): Promise<RunsLoad> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: { cookies: [], origins: [{ origin: new URL(url).origin, localStorage: [{ name: 'hone.token', value: TOKEN }] }] } });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => (bytes += e.encodedDataLength));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
  await page.waitForSelector('[data-testid="runs-table"] [data-row-id]');
  const ms = await page.evaluate(() => performance.getEntriesByName('hone:ready')[0]?.startTime ?? performance.now());
  const api = await page.evaluate(() =>
    (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
      .filter((e) => e.name.includes('/api/v1/') || e.name.includes('/assets/'))
      .map((e) => ({ name: new URL(e.name).pathname + new URL(e.name).search, start: e.startTime, end: e.responseEnd })),
  );
  const rows = Number(await page.getAttribute('[data-testid="runs-table"]', 'data-rows'));
  const domRows = await page.$$eval('[data-testid="runs-table"] .vt-body [role="row"]', (r) => r.length);
  if (screenshot) {
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
  }
  const t0 = Date.now();
  await page.$eval('[data-testid="runs-table"]', (el) => (el.scrollTop = el.scrollHeight));
  await page.waitForSelector(`[data-testid="runs-table"] [data-row-index="${rows - 1}"][data-row-id]`, { timeout: 60_000 });
  const lastRowMs = Date.now() - t0;
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  await ctx.close();
  return { ms, api, rows, domRows, bytes, lastRowMs };
}

/**
 * RUN_COUNT trials in experiments of RUNS_PER_EXPERIMENT (projects `bench-a`, `bench-b`), plus one 100-trial
 * experiment in project `bench-small` (the baseline), each trial with a few validation points.
 */
async function seedRuns(q: Parameters<Parameters<typeof seedDatabase>[1]>[0]): Promise<void> {
  const experiments = Math.ceil(RUN_COUNT / RUNS_PER_EXPERIMENT);
  for (let i = 0; i < experiments; i++) {
    const trials = Math.min(RUNS_PER_EXPERIMENT, RUN_COUNT - i * RUNS_PER_EXPERIMENT);
    await seedExperiment(q, { name: `bench-runs-${i}`, state: 'COMPLETED', searcher: 'random', trials, points: 3, project: i % 2 ? 'bench-b' : 'bench-a' });
  }
  await seedExperiment(q, { name: 'bench-runs-small', state: 'COMPLETED', searcher: 'random', trials: 100, points: 3, project: 'bench-small' });
}

async function main(): Promise<void> {
  const why = browserUnavailable();
  if (why) {
    console.error(`bench:webui needs Chromium: ${why}`);
    process.exit(2);
  }
  ensureBuilt();
  // BENCH_DATA_DIR keeps (and reuses) the seeded database between runs; by default a temporary one is used.
  const keep = process.env.BENCH_DATA_DIR;
  const dir = keep ?? tempDataDir('hone-bench-webui-');
  const marker = `${dir}/.bench-seeded.json`;
  let seeded: { big: { id: number }; small: { id: number } };
  if (keep && fs.existsSync(marker)) seeded = JSON.parse(fs.readFileSync(marker, 'utf8'));
  else {
    const t0 = Date.now();
    seeded = await seedDatabase(dir, async (q) => ({
      small: await seedExperiment(q, { name: 'bench-small', state: 'COMPLETED', searcher: 'random', trials: 10, points: POINTS }),
      big: await seedExperiment(q, { name: 'bench-1000-trials', state: 'COMPLETED', searcher: 'random', trials: TRIALS, points: POINTS }),
    }));
    console.log(`seeded ${TRIALS} trials × ${POINTS} validation points in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const t1 = Date.now();
    await seedDatabase(dir, seedRuns);
    console.log(`seeded ${RUN_COUNT} runs in ${Math.ceil(RUN_COUNT / RUNS_PER_EXPERIMENT)} experiments in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    if (keep) fs.writeFileSync(marker, JSON.stringify(seeded));
  }
  const { big, small } = seeded;
  const master = await startMaster(dir);
  TOKEN = await apiLogin(master.url);
  const H = { headers: { Authorization: `Bearer ${TOKEN}` } };
  const browser = await launchBrowser();
  try {
    // Warm the master (first query plans, JIT) so the first timed run is not an outlier of the server. The
    // curves stay cold: the first run reads them from the database (experiment_page_cold_ms), later ones from
    // the master's cache.
    await fetch(`${master.url}/api/v1/experiments/${big.id}`, H).then((r) => r.arrayBuffer());
    const bigRuns: Load[] = [];
    const smallRuns: Load[] = [];
    for (let i = 0; i < RUNS; i++) {
      smallRuns.push(await loadOnce(browser, `${master.url}/experiments/${small.id}`));
      bigRuns.push(await loadOnce(browser, `${master.url}/experiments/${big.id}`, i === 0 ? path.join(REPO_ROOT, 'test-results/screenshots/bench-experiment-1000-trials.png') : undefined));
      const b = bigRuns[i]!;
      console.log(`run ${i + 1}: ${TRIALS}-trial page usable in ${b.ms.toFixed(0)} ms (last API response at ${b.lastApiEnd.toFixed(0)} ms, render after it ${(b.ms - b.lastApiEnd).toFixed(0)} ms), ${(b.bytes / 1024).toFixed(0)} KiB in ${b.requests} responses (${b.series} curves, ${b.rows} rows); 10-trial page ${smallRuns[i]!.ms.toFixed(0)} ms`);
      for (const a of b.api) console.log(`    ${a.name}: ${a.start.toFixed(0)} → ${a.end.toFixed(0)} ms (${(a.end - a.start).toFixed(0)} ms)`);
    }
    // The runs view: 10,000 trials across experiments, against one 100-run project.
    await fetch(`${master.url}/api/v1/runs?limit=100`, H).then((r) => r.arrayBuffer());
    const runsBig: RunsLoad[] = [];
    const runsSmall: RunsLoad[] = [];
    for (let i = 0; i < RUNS; i++) {
      runsSmall.push(await loadRuns(browser, `${master.url}/experiments?view=runs&project=bench-small`));
      runsBig.push(await loadRuns(browser, `${master.url}/experiments?view=runs`, i === 0 ? path.join(REPO_ROOT, 'test-results/screenshots/bench-runs-10000.png') : undefined));
      const b = runsBig[i]!;
      console.log(`run ${i + 1}: ${b.rows}-run list usable in ${b.ms.toFixed(0)} ms (${b.domRows} rows in the DOM, ${(b.bytes / 1024).toFixed(0)} KiB; last row drawn ${b.lastRowMs} ms after jumping to it); 100-run list ${runsSmall[i]!.ms.toFixed(0)} ms`);
      for (const a of b.api.filter((x) => x.start < b.ms)) console.log(`    ${a.name}: ${a.start.toFixed(0)} → ${a.end.toFixed(0)} ms (${(a.end - a.start).toFixed(0)} ms)`);
    }
    const runsMs = median(runsBig.map((r) => r.ms));
    const runsSmallMs = median(runsSmall.map((r) => r.ms));
    console.log(`runs view: ${runsBig[0]!.rows} runs usable in ${runsMs.toFixed(0)} ms = ${(runsMs / RUNS_TARGET_MS).toFixed(2)} × the ${RUNS_TARGET_MS} ms target, ${(runsMs / runsSmallMs).toFixed(2)} × the 100-run list`);

    const full = await fetch(`${master.url}/api/v1/experiments/${big.id}/metrics?group=validation&max_points=${POINTS}`, H).then((r) => r.arrayBuffer());
    const ms = median(bigRuns.map((r) => r.ms));
    const bytes = median(bigRuns.map((r) => r.bytes));
    const smallMs = median(smallRuns.map((r) => r.ms));
    const result = {
      experiment_page_ms: Math.round(ms),
      experiment_page_bytes: bytes,
      experiment_page_requests: median(bigRuns.map((r) => r.requests)),
      experiment_page_render_after_data_ms: Math.round(median(bigRuns.map((r) => r.ms - r.lastApiEnd))),
      experiment_page_last_api_response_ms: Math.round(median(bigRuns.map((r) => r.lastApiEnd))),
      curves_drawn: bigRuns[0]!.series,
      trials: TRIALS,
      points_per_trial: POINTS,
      baseline_small_page_ms: Math.round(smallMs),
      time_ratio_vs_10_trials: Number((ms / smallMs).toFixed(2)),
      full_resolution_curves_bytes: full.byteLength,
      bytes_ratio_vs_full_resolution_curves: Number((bytes / full.byteLength).toFixed(3)),
      target_ms: 1500,
      target_bytes: 2_000_000,
      // The first load of the page after the master started: its series cache is empty, so the curves come
      // from the database (issue 17 asks for <= 1 s to usable).
      experiment_page_cold_ms: Math.round(bigRuns[0]!.ms),
      experiment_page_warm_median_ms: Math.round(median(bigRuns.slice(1).map((r) => r.ms))),
      issue17_target_ms: 1000,
      experiment_page_over_issue17_target: Number((ms / 1000).toFixed(2)),
      runs_list_ms: Math.round(runsMs),
      runs_list_rows: runsBig[0]!.rows,
      runs_list_dom_rows: Math.max(...runsBig.map((r) => r.domRows)),
      runs_list_bytes: median(runsBig.map((r) => r.bytes)),
      runs_list_last_row_ms: median(runsBig.map((r) => r.lastRowMs)),
      baseline_runs_100_ms: Math.round(runsSmallMs),
      runs_time_ratio_vs_100_runs: Number((runsMs / runsSmallMs).toFixed(2)),
      runs_target_ms: RUNS_TARGET_MS,
      runs_ratio_to_target: Number((runsMs / RUNS_TARGET_MS).toFixed(2)),
      meets_targets: ms < 1500 && bytes < 2_000_000 && runsMs <= RUNS_TARGET_MS,
    };
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
    await master.stop();
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
