// bench:runs — GET /api/v1/runs's query (listRuns) over 10,000 trials in 100 experiments, on the embedded PGlite
// (the default) or PostgreSQL (BENCH_PG=1): a first page by id, a page filtered by a hyperparameter range and sorted
// by a metric, and a deep page. Baseline, in the same run: the plainest page of the same table (SELECT * FROM
// trials ORDER BY id DESC LIMIT 100). Prints milliseconds per query (median of rounds) and the ratio to the baseline.
import { openDatabase, type Database } from '../../master/src/db/database';
import { insertExperiment } from '../../master/src/db/experiments';
import { listRuns, type RunFilter } from '../../master/src/db/runs';
import { parseExperimentConfig } from '../../protocol/src/config';
import { freshDatabase } from '../../test/helpers/services';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 10_000);
const EXPERIMENTS = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let drop = async () => undefined as void;
let db: Database;
if (process.env.BENCH_PG) {
  const fresh = await freshDatabase('hone_bench_runs');
  drop = fresh.drop;
  db = await openDatabase({ url: fresh.url });
} else db = await openDatabase({ memory: true });

try {
  const config = parseExperimentConfig({ name: 'bench', entrypoint: 'model.js', searcher: { name: 'random', metric: 'loss', max_trials: 100, max_length: 10 } });
  const perExp = Math.ceil(TRIALS / EXPERIMENTS);
  for (let e = 0; e < EXPERIMENTS; e++) {
    const id = await insertExperiment(db, { config, configYaml: '', state: 'COMPLETED', owner: 'admin', context: null });
    // One multi-row INSERT per experiment: the fixture, not what is measured.
    const rows: string[] = [];
    const params: unknown[] = [id];
    for (let i = 0; i < perExp; i++) {
      const k = e * perExp + i;
      params.push(JSON.stringify({ lr: 10 ** -(1 + (k % 4)), layers: 1 + (k % 5), opt: { name: k % 2 ? 'adam' : 'sgd' } }), JSON.stringify({ loss: ((k * 7919) % 1000) / 1000, acc: (k % 100) / 100 }));
      rows.push(`($1, 'r${i}', 'COMPLETED', $${params.length - 1}::jsonb, ${k}, $${params.length}::jsonb, ${((k * 7919) % 1000) / 1000})`);
    }
    await db.query(`INSERT INTO trials (experiment_id, request_id, state, hparams, seed, latest_validation, best_validation) VALUES ${rows.join(',')}`, params);
  }
  const base: RunFilter = { archived: false, sort: { key: 'id' }, order: 'desc', offset: 0, limit: 100 };
  const cases: Record<string, () => Promise<unknown>> = {
    baseline: () => db.query('SELECT * FROM trials ORDER BY id DESC LIMIT 100'),
    firstPage: () => listRuns(db, base),
    filteredSorted: () => listRuns(db, { ...base, hp: [{ name: 'lr', min: 0.005 }, { name: 'opt.name', equals: 'adam' }], metric: [{ name: 'loss', max: 0.5 }], sort: { metric: 'loss' }, order: 'asc' }),
    sortByHparam: () => listRuns(db, { ...base, sort: { hp: 'lr' } }),
    deepPage: () => listRuns(db, { ...base, offset: 9_000 }),
  };
  const ms: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const run of Object.values(cases)) await run(); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, run] of Object.entries(cases)) {
      const t0 = performance.now();
      await run();
      ms[k]!.push(performance.now() - t0);
    }
  }
  const med = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)]));
  for (const [k, v] of Object.entries(med)) console.log(`${k.padEnd(16)} ${v.toFixed(2)} ms${k === 'baseline' ? '' : `  (${(v / med.baseline!).toFixed(1)}x the baseline)`}`);
  console.log(
    JSON.stringify({
      bench: 'runs',
      database: db.kind,
      trials: perExp * EXPERIMENTS,
      ...Object.fromEntries(Object.entries(med).map(([k, v]) => [`${k}Ms`, Number(v.toFixed(2))])),
      ...Object.fromEntries(Object.entries(med).filter(([k]) => k !== 'baseline').map(([k, v]) => [`${k}Ratio`, Number((v / med.baseline!).toFixed(2))])),
    }),
  );
} finally {
  await db.close();
  await drop();
}
