// Table upkeep for the embedded database. PGlite runs PostgreSQL as one process without background workers, so
// nothing vacuums or analyses its tables: dead rows of every update stay (the trials row takes one per metric
// batch, the experiment one per searcher step), tables and indexes grow without bound, index-only scans cannot
// skip the heap, and the planner never gets statistics. The master does what autovacuum would, with its default
// thresholds, from the same counters (pg_stat_user_tables): a real PostgreSQL server runs autovacuum itself.
import type { Queryable } from './database';

export interface TableActivity {
  table: string;
  live: number;
  dead: number;
  modifiedSinceAnalyze: number;
  insertedSinceVacuum: number;
}

export interface TableUpkeep {
  table: string;
  vacuum: boolean;
  analyze: boolean;
}

/** autovacuum's defaults: autovacuum_vacuum_threshold/_scale_factor, _insert_threshold/_scale_factor, analyze. */
const VACUUM_BASE = 50;
const VACUUM_SCALE = 0.2;
const INSERT_BASE = 1000;
const INSERT_SCALE = 0.2;
const ANALYZE_BASE = 50;
const ANALYZE_SCALE = 0.1;

export async function tableActivity(q: Queryable): Promise<TableActivity[]> {
  const r = await q.query<{ relname: string; n_live_tup: number; n_dead_tup: number; n_mod_since_analyze: number; n_ins_since_vacuum: number }>(
    `SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze, n_ins_since_vacuum FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname`,
  );
  return r.rows.map((row) => ({
    table: row.relname,
    live: Number(row.n_live_tup),
    dead: Number(row.n_dead_tup),
    modifiedSinceAnalyze: Number(row.n_mod_since_analyze),
    insertedSinceVacuum: Number(row.n_ins_since_vacuum),
  }));
}

/** Which tables autovacuum would vacuum or analyse now (pure). */
export function upkeepPlan(tables: TableActivity[]): TableUpkeep[] {
  const out: TableUpkeep[] = [];
  for (const t of tables) {
    const vacuum = t.dead > VACUUM_BASE + VACUUM_SCALE * t.live || t.insertedSinceVacuum > INSERT_BASE + INSERT_SCALE * t.live;
    const analyze = t.modifiedSinceAnalyze > ANALYZE_BASE + ANALYZE_SCALE * t.live;
    if (vacuum || analyze) out.push({ table: t.table, vacuum, analyze });
  }
  return out;
}

/** Runs the plan, one table at a time (other queries go in between). */
export async function runUpkeep(q: Queryable, plan: TableUpkeep[]): Promise<void> {
  for (const t of plan) {
    const name = `"${t.table.replaceAll('"', '""')}"`;
    await q.query(t.vacuum ? `VACUUM (ANALYZE ${t.analyze ? 'true' : 'false'}) ${name}` : `ANALYZE ${name}`);
  }
}
