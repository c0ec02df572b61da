// Embedded database upkeep: a periodic job that vacuums and analyses the tables autovacuum would (see
// db/maintenance.ts). Registered only when the master runs on PGlite; a PostgreSQL server does this itself.
import type { Logger } from 'pino';
import type { Database } from '../../db';
import { runUpkeep, tableActivity, upkeepPlan } from '../../db/maintenance';
import type { JobHandler } from '../types';

export const DB_UPKEEP = 'dbUpkeep';

export function dbUpkeepHandler(deps: { db: Database; log: Logger }): JobHandler<Record<string, never>> {
  return {
    kind: DB_UPKEEP,
    maxAttempts: 3,
    async run() {
      const plan = upkeepPlan(await tableActivity(deps.db));
      if (!plan.length) return;
      const t0 = performance.now();
      await runUpkeep(deps.db, plan);
      deps.log.debug({ tables: plan, ms: Math.round(performance.now() - t0) }, 'embedded database upkeep');
    },
  };
}
