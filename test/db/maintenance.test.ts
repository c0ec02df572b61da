import { expect, it } from 'vitest';
import { runUpkeep, tableActivity, upkeepPlan, type TableActivity } from '../../master/src/db/maintenance';
import { describeBoth } from './both';
import { addExperiment, addTrial } from './fixtures';

const quiet = (table: string, live: number, over: Partial<TableActivity> = {}): TableActivity => ({
  table,
  live,
  dead: 0,
  modifiedSinceAnalyze: 0,
  insertedSinceVacuum: 0,
  ...over,
});

it("plans what autovacuum's default thresholds would: dead rows over 50 + 20%, inserts over 1000 + 20%, changes over 50 + 10%", () => {
  expect(
    upkeepPlan([
      quiet('idle', 1000, { dead: 250, modifiedSinceAnalyze: 150 }),
      quiet('updated', 1000, { dead: 251, modifiedSinceAnalyze: 251 }),
      quiet('appended', 10_000, { insertedSinceVacuum: 3001, modifiedSinceAnalyze: 1049 }),
      quiet('analysed', 10_000, { modifiedSinceAnalyze: 1051 }),
    ]),
  ).toEqual([
    { table: 'updated', vacuum: true, analyze: true },
    { table: 'appended', vacuum: true, analyze: false },
    { table: 'analysed', vacuum: false, analyze: true },
  ]);
});

describeBoth('embedded database upkeep', (t) => {
  it('vacuums and analyses a table whose rows were updated over and over', async () => {
    const exp = await addExperiment(t.db);
    for (let i = 0; i < 40; i++) await addTrial(t.db, exp);
    for (let i = 0; i < 20; i++) await t.db.query('UPDATE trials SET total_batches = total_batches + 1 WHERE experiment_id = $1', [exp]);
    // PostgreSQL reports the counters at the end of a statement and flushes them to the shared view at most
    // once a second.
    let plan = upkeepPlan(await tableActivity(t.db));
    for (let i = 0; i < 50 && !plan.some((p) => p.table === 'trials'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      plan = upkeepPlan(await tableActivity(t.db));
    }
    expect(plan).toContainEqual({ table: 'trials', vacuum: true, analyze: true });
    await runUpkeep(t.db, plan);
    const after = await t.db.query<{ last_vacuum: Date | null; last_analyze: Date | null }>(
      `SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'trials'`,
    );
    expect(after.rows[0]!.last_vacuum).not.toBeNull();
    expect(after.rows[0]!.last_analyze).not.toBeNull();
  });
});
