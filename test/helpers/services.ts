// Real PostgreSQL for tests: each test gets a fresh database on the server named by HONE_TEST_PG
// (default postgres://postgres@127.0.0.1:5432/test). Absent server: skip on a laptop, fail in CI.
import pg from 'pg';

export const PG_URL = process.env.HONE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch (e) {
    if (IN_CI) throw new Error(`PostgreSQL is required in CI but is not reachable at ${PG_URL}: ${(e as Error).message}`);
    console.warn(`skipping PostgreSQL tests: no server at ${PG_URL} (${(e as Error).message})`);
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Creates an empty database and returns its URL and a function that drops it. */
export async function freshDatabase(prefix = 'hone'): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
    },
  };
}

export const REDIS_URL = process.env.HONE_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** Whether the test Redis answers (skip on a laptop without one; fail in CI). */
export async function redisAvailable(): Promise<boolean> {
  const { Redis } = await import('ioredis');
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch (e) {
    if (IN_CI) throw new Error(`Redis is required in CI but is not reachable at ${REDIS_URL}: ${(e as Error).message}`);
    console.warn(`skipping Redis tests: no server at ${REDIS_URL} (${(e as Error).message})`);
    return false;
  } finally {
    r.disconnect();
  }
}

/** A BullMQ key prefix of its own for one test, so parallel runs never share a queue. */
export function redisPrefix(name: string): string {
  return `hone-test-${name}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

/** Deletes every key under a test's prefix. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
