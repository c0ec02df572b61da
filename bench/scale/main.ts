// bench:scale — stored work at scale: a master on PostgreSQL with 10,000 experiments (one trial each) and
// 1,000,000 metric rows, seeded with SQL through the db layer: GET /api/v1/experiments (one page) p50/p99
// (target p99 <= 50 ms) and the master's RSS at idle; next to it, the same master process on an empty embedded
// (PGlite) database, and a bare Node process, for where the RSS goes. BENCH_EXPERIMENTS / BENCH_METRICS scale it.
import fs from 'node:fs';
import { openDatabase } from '../../master/src/db';
import { addMetricRows, copyExperiments } from '../../master/src/db/benchSeed';
import { addTrial, addExperiment } from '../../test/db/fixtures';
import { api, startMasterProcess, tmpDir } from '../../test/helpers/processes';
import { freshDatabase, postgresAvailable } from '../../test/helpers/services';

const EXPERIMENTS = Number(process.env.BENCH_EXPERIMENTS ?? 10_000);
const METRICS = Number(process.env.BENCH_METRICS ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const idle = () => new Promise((r) => setTimeout(r, 5000));

const result: Record<string, unknown> = { load_avg_start: loadavg() };
const bare = rssMb(process.pid);
result.bare_node_bench_process_rss_mb = Math.round(bare);

// The embedded database, empty, at idle.
// First start (initdb runs in a child process the master waits for) and a restart on the same directory.
{
  const dataDir = tmpDir('scale-pglite');
  let m = await startMasterProcess({ dataDir, env: { HONE_LOG_LEVEL: 'warn' } });
  await idle();
  result.pglite_empty_idle_rss_mb = Math.round(rssMb(m.child.pid!));
  await m.kill();
  m = await startMasterProcess({ dataDir, env: { HONE_LOG_LEVEL: 'warn' } });
  await idle();
  result.pglite_restarted_idle_rss_mb = Math.round(rssMb(m.child.pid!));
  await m.kill();
}

if (!(await postgresAvailable())) {
  console.log('PostgreSQL not reachable at 127.0.0.1:5432: the seeded half is skipped');
} else {
  const pg = await freshDatabase('scale');
  const m = await startMasterProcess({ dataDir: tmpDir('scale-pg'), dbUrl: pg.url, env: { HONE_LOG_LEVEL: 'warn' } });
  try {
    const db = await openDatabase({ url: pg.url });
    const t0 = performance.now();
    const exp = await addExperiment(db, { state: 'COMPLETED' });
    const trial = await addTrial(db, exp);
    await copyExperiments(db, exp, trial, EXPERIMENTS - 1);
    await addMetricRows(db, Math.min(EXPERIMENTS, 1000), Math.ceil(METRICS / Math.min(EXPERIMENTS, 1000)));
    await db.query('ANALYZE');
    result.seed_s = +((performance.now() - t0) / 1000).toFixed(1);
    await db.close();
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const s = performance.now();
      const r = await api(m.url, 'GET', '/experiments');
      if (r.status !== 200) throw new Error(`list: ${r.status}`);
      times.push(performance.now() - s);
    }
    await idle();
    Object.assign(result, {
      experiments: EXPERIMENTS,
      metric_rows: METRICS,
      list_p50_ms: +pct(times, 0.5).toFixed(1),
      list_p99_ms: +pct(times, 0.99).toFixed(1),
      list_target_p99_ms: 50,
      postgres_seeded_idle_rss_mb: Math.round(rssMb(m.child.pid!)),
      load_avg: loadavg(),
    });
    console.log(`GET /experiments (one page) over ${EXPERIMENTS} experiments, ${METRICS} metric rows: p50 ${result.list_p50_ms} ms, p99 ${result.list_p99_ms} ms (target <= 50); master RSS idle ${result.postgres_seeded_idle_rss_mb} MB`);
  } finally {
    await m.kill();
    await pg.drop();
  }
}
console.log(`master RSS at idle: empty PGlite ${result.pglite_empty_idle_rss_mb} MB (first start), ${result.pglite_restarted_idle_rss_mb} MB (restarted); this bench process (Node + tsx) ${result.bare_node_bench_process_rss_mb} MB`);
console.log(JSON.stringify(result));
process.exit(0);
