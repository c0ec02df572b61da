// One small database port over PostgreSQL (`pg`) and the embedded PGlite. Same SQL, same migrations.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { HoneError } from '../errors';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, any>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

/** What a transaction's `Queryable` carries: callbacks to run once it has committed (see `afterCommit`). */
const AFTER_COMMIT = Symbol('afterCommit');
type TxQueryable = Queryable & { [AFTER_COMMIT]?: Array<() => void> };

/**
 * Runs `fn` once what was written through `q` is visible to other connections: after the commit when `q` is a
 * transaction of `Database.transaction` (never, when it rolls back), at once otherwise (a statement on its own
 * has committed when its query resolves).
 */
export function afterCommit(q: Queryable, fn: () => void): void {
  const hooks = (q as TxQueryable)[AFTER_COMMIT];
  if (hooks) hooks.push(fn);
  else fn();
}

/** A transaction's `Queryable`, with its after-commit callbacks. */
function txQueryable(query: Queryable['query']): { tx: Queryable; committed: () => void } {
  const hooks: Array<() => void> = [];
  const tx: TxQueryable = { query, [AFTER_COMMIT]: hooks };
  return {
    tx,
    committed: () => {
      for (const fn of hooks.splice(0)) fn();
    },
  };
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// BIGINT ids and counters fit comfortably in a JS number; parse them as numbers in both adapters.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * The database cannot be reached (refused, restarted, connections terminated, new ones blocked): a passing
 * condition, not a bug. The API answers 503 UNAVAILABLE with Retry-After; background loops try again later.
 */
export class DatabaseUnavailableError extends HoneError {
  constructor(override readonly cause: unknown) {
    super('UNAVAILABLE', `the database is unavailable (${(cause as Error)?.message ?? String(cause)}); try again shortly`);
    this.name = 'DatabaseUnavailableError';
  }
}

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether a pg error means the server or the connection is gone (SQLSTATE classes 08 and 57P, refusals to connect). */
export function isConnectionFailure(e: unknown): boolean {
  if (e instanceof DatabaseUnavailableError) return true;
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = typeof err?.message === 'string' ? err.message : '';
  if (CONNECTION_ERRNOS.has(code)) return true;
  // 08xxx connection exceptions; 57P01-57P05 admin/crash shutdown, cannot connect now; 53300 too many connections.
  if (/^08/.test(code) || /^57P0/.test(code) || code === '53300') return true;
  // 55000 with this message: the database was set ALLOW_CONNECTIONS false.
  if (code === '55000' && /not currently accepting connections/.test(message)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|Connection refused|server closed the connection/i.test(message);
}

function unavailableOr(e: unknown): unknown {
  return isConnectionFailure(e) && !(e instanceof DatabaseUnavailableError) ? new DatabaseUnavailableError(e) : e;
}

class PgDatabase implements Database {
  readonly kind = 'postgres' as const;
  constructor(private readonly pool: pg.Pool) {}
  async query<R>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> {
    try {
      const r = await this.pool.query(sql, params as any[]);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    } catch (e) {
      throw unavailableOr(e);
    }
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw unavailableOr(e);
    }
    // A checked-out client has no error listener of the pool's: without this one, a connection terminated
    // between two statements of the transaction would be an uncaught 'error' event, and end the master.
    let broken: Error | undefined;
    const onError = (e: Error) => {
      broken = e;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const { tx, committed } = txQueryable(async <R>(sql: string, params: unknown[] = []) => {
        try {
          const r = await client.query(sql, params as any[]);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        } catch (e) {
          throw unavailableOr(e);
        }
      });
      const out = await fn(tx);
      await client.query('COMMIT');
      committed();
      return out;
    } catch (e) {
      if (isConnectionFailure(e)) broken ??= e as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw unavailableOr(e);
    } finally {
      client.removeListener('error', onError);
      // A broken connection is dropped from the pool, never handed out again.
      client.release(broken);
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  constructor(private readonly db: PGlite) {}
  async query<R>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> {
    const r = await this.db.query<R>(sql, params as any[]);
    return { rows: r.rows.map(fixRow) as R[], rowCount: r.affectedRows ?? r.rows.length };
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let done = (): void => undefined;
    const out = await this.db.transaction(async (t) => {
      const { tx, committed } = txQueryable(async <R>(sql: string, params: unknown[] = []) => {
        const r = await t.query<R>(sql, params as any[]);
        return { rows: r.rows.map(fixRow) as R[], rowCount: r.affectedRows ?? r.rows.length };
      });
      done = committed;
      return fn(tx);
    });
    done();
    return out;
  }
  async close(): Promise<void> {
    await this.db.close();
  }
}

// PGlite returns int8 as bigint; make rows look like pg's.
function fixRow<R>(row: R): R {
  const o = row as Record<string, unknown>;
  for (const k in o) if (typeof o[k] === 'bigint') o[k] = Number(o[k]);
  return row;
}

export interface OpenOptions {
  /** postgres://... — use a real PostgreSQL. */
  url?: string;
  /** Directory for the embedded PGlite database (created if missing). Ignored with `url`. */
  dataDir?: string;
  /** In-memory PGlite (tests). */
  memory?: boolean;
  migrate?: boolean;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  let db: Database;
  if (opts.url) {
    // A connection that cannot be made in 5 s fails (and the request gets a 503) rather than waiting forever.
    const pool = new pg.Pool({ connectionString: opts.url, max: 10, connectionTimeoutMillis: 5000 });
    // An idle connection that dies (the server restarted, its backend was terminated) is dropped by the pool;
    // the next query opens a new one. Without a listener, that 'error' event would end the master.
    pool.on('error', () => undefined);
    db = new PgDatabase(pool);
    await db.query('SELECT 1');
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    let dir: string | undefined;
    if (!opts.memory) {
      if (!opts.dataDir) throw new Error('openDatabase: dataDir or url is required');
      dir = path.join(opts.dataDir, 'pgdata');
      fs.mkdirSync(dir, { recursive: true });
      await initPgliteDataDir(dir);
    }
    // shared_buffers: PostgreSQL's default of 128 MB lives in the WebAssembly heap and is never given back, while
    // the files PGlite reads are in the operating system's page cache anyway; 32 MB halves the idle master's RSS.
    const liteOptions = { postgresqlconf: ['shared_buffers=32MB'] };
    const lite = dir ? new PGlite(dir, liteOptions) : new PGlite(liteOptions);
    await lite.waitReady;
    db = new PgliteDatabase(lite);
  }
  if (opts.migrate !== false) await migrate(db);
  return db;
}

/**
 * Creates a new embedded database directory in a short-lived child process. initdb inside PGlite grows the
 * WebAssembly heap to several hundred MB, which a process never gives back: done in the master itself, the first
 * start would idle at twice the RSS of every later start. An existing directory (PG_VERSION present) is left alone.
 */
export async function initPgliteDataDir(dir: string): Promise<void> {
  if (fs.existsSync(path.join(dir, 'PG_VERSION'))) return;
  const moduleUrl = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(moduleUrl)}); const db = new PGlite(process.argv[1]); await db.waitReady; await db.close();`;
  try {
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dir], { timeout: 300_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`could not create the embedded database in ${dir}: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`);
  }
}

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');

/** Applies forward-only numbered SQL migrations that have not run yet, each in its own transaction. */
export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
  // Serialize concurrent masters starting against one PostgreSQL.
  const files = fs.readdirSync(dir).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  const applied: string[] = [];
  for (const f of files) {
    await db.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(424242)');
      const done = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [f]);
      if (done.rows.length) return;
      const sql = fs.readFileSync(path.join(dir, f), 'utf8');
      for (const stmt of splitSql(sql)) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [f]);
      applied.push(f);
    });
  }
  return applied;
}

function splitSql(sql: string): string[] {
  return sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}
