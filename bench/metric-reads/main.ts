// bench:metric-reads — reading the curve of a trial with very many metric points: the downsampled read the UI
// makes, and one page of the raw read, through the master's API on PostgreSQL; next to the baseline, a plain
// SELECT of every point of that trial (what reading the whole series costs before any downsampling), in the same
// run. Also the master's resident memory before and after the reads: the summary is computed by the database,
// so the master's memory must not grow with the trial's size.
import fs from 'node:fs';
import pg from 'pg';
import { api, startMasterProcess, tmpDir } from '../../test/helpers/processes';
import { freshDatabase, postgresAvailable } from '../../test/helpers/services';

const POINTS = Number(process.env.BENCH_POINTS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

if (!(await postgresAvailable())) {
  console.error('bench:metric-reads needs PostgreSQL (HONE_TEST_PG)');
  process.exit(1);
}
const db = await freshDatabase('hone_bench_reads');
const master = await startMasterProcess({ dataDir: tmpDir('bench-reads'), dbUrl: db.url, env: { HONE_LOG_LEVEL: 'warn' } });
const sql = new pg.Pool({ connectionString: db.url, max: 2 });
try {
  const config = `name: bench-metric-reads
entrypoint: model.ts:createTrial
searcher: {name: single, metric: loss, max_length: {batches: 10}}
hyperparameters: {x: 1}`;
  const created = await api<{ id: number }>(master.url, 'POST', '/experiments', { config });
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  let trialId = 0;
  for (let i = 0; i < 200 && !trialId; i++) {
    await new Promise((r) => setTimeout(r, 100));
    trialId = Number((await sql.query('SELECT id FROM trials LIMIT 1')).rows[0]?.id ?? 0);
  }
  if (!trialId) throw new Error('the trial was not created');
  // Four metrics per point, as a training loop reports them.
  const t0 = performance.now();
  for (let s = 0; s < POINTS; s += 200_000) {
    await sql.query(
      `INSERT INTO metrics (trial_id, grp, steps_completed, metrics)
       SELECT $1, 'training', g, jsonb_build_object('loss', 1.0 / (1 + g), 'accuracy', g / (g + 10.0), 'lr', 0.001, 'grad_norm', sin(g) + 2)
         FROM generate_series($2::bigint, $3::bigint) AS g`,
      [trialId, s + 1, Math.min(POINTS, s + 200_000)],
    );
  }
  // The rows went in by SQL, not through the master: record their names as the master does when it stores a batch.
  await sql.query(`UPDATE trials SET training_metric_names = '{"loss": true, "accuracy": true, "lr": true, "grad_norm": true}' WHERE id = $1`, [trialId]);
  await sql.query('ANALYZE metrics');
  console.log(`stored ${POINTS} points in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const rssBefore = rssMiB(master.child.pid!);
  const downsampled: number[] = [];
  const rawPage: number[] = [];
  const baseline: number[] = [];
  let seriesPoints = 0;
  let pageBytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    const d = await api<{ series: Record<string, unknown[]> }>(master.url, 'GET', `/trials/${trialId}/metrics?group=training`);
    downsampled.push(performance.now() - t);
    if (d.status !== 200) throw new Error(`downsampled read failed: ${JSON.stringify(d.body)}`);
    seriesPoints = Math.max(...Object.values(d.body.series).map((s) => s.length));
    t = performance.now();
    const p = await api<{ points: unknown[]; next_cursor: string | null }>(master.url, 'GET', `/trials/${trialId}/metrics?group=training&raw=true`);
    rawPage.push(performance.now() - t);
    if (p.status !== 200 || !p.body.next_cursor) throw new Error(`raw page failed: ${JSON.stringify(p.body).slice(0, 200)}`);
    pageBytes = JSON.stringify(p.body).length;
    t = performance.now();
    await sql.query("SELECT steps_completed, metrics FROM metrics WHERE trial_id = $1 AND grp = 'training' ORDER BY steps_completed, id", [trialId]);
    baseline.push(performance.now() - t);
    console.log(`round ${r + 1}: downsampled ${downsampled[r]!.toFixed(0)} ms, raw page ${rawPage[r]!.toFixed(0)} ms, plain SELECT of every point ${baseline[r]!.toFixed(0)} ms`);
  }
  const rssAfter = rssMiB(master.child.pid!);
  const result = {
    points: POINTS,
    downsampled_ms: Math.round(median(downsampled)),
    downsampled_points_per_metric: seriesPoints,
    raw_page_ms: Math.round(median(rawPage)),
    raw_page_bytes: pageBytes,
    select_all_ms: Math.round(median(baseline)),
    downsampled_over_select_all: Number((median(downsampled) / median(baseline)).toFixed(3)),
    master_rss_before_mib: Math.round(rssBefore),
    master_rss_after_mib: Math.round(rssAfter),
    master_rss_growth_mib: Math.round(rssAfter - rssBefore),
  };
  console.log(`downsampled curve of ${POINTS} points: ${result.downsampled_ms} ms (${seriesPoints} points per metric), ${result.downsampled_over_select_all}x a plain SELECT of every point; master RSS ${result.master_rss_before_mib} -> ${result.master_rss_after_mib} MiB`);
  console.log(JSON.stringify(result));
} finally {
  await sql.end();
  await master.kill();
  await db.drop();
}
