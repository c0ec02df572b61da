// Runs a repository suite once per database kind: the embedded PGlite and the real PostgreSQL (a fresh database
// on the test server, dropped afterwards). One migrated database per file and kind; every table is emptied
// before each test (ids keep growing), so tests that list everything see only their own rows.
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { openDatabase, type Database } from '../../master/src/db/database';
import { freshDatabase, postgresAvailable } from '../helpers/services';

// Throws in CI when the server is absent, so the suite fails there instead of skipping.
const hasPostgres = await postgresAvailable();

export interface Suite {
  /** The suite's database (available inside hooks and tests, not while the body is being collected). */
  readonly db: Database;
  readonly kind: Database['kind'];
}

export function describeBoth(name: string, body: (suite: Suite) => void): void {
  for (const kind of ['pglite', 'postgres'] as const) {
    describe.skipIf(kind === 'postgres' && !hasPostgres)(`${name} (${kind})`, () => {
      let db: Database | undefined;
      let drop: () => Promise<void> = async () => undefined;
      beforeAll(async () => {
        if (kind === 'pglite') {
          db = await openDatabase({ memory: true });
        } else {
          const fresh = await freshDatabase('hone_db');
          drop = fresh.drop;
          db = await openDatabase({ url: fresh.url });
        }
      });
      afterAll(async () => {
        await db?.close();
        await drop();
      });
      // Agents stand alone; every other table hangs off experiments (ON DELETE CASCADE). DELETE, not TRUNCATE:
      // on PostgreSQL a TRUNCATE of these small tables costs a hundred times more.
      beforeEach(async () => {
        await db!.query('DELETE FROM experiments');
        await db!.query('DELETE FROM agents');
      });
      body({
        get db() {
          if (!db) throw new Error('the database opens in beforeAll');
          return db;
        },
        kind,
      });
    });
  }
}
