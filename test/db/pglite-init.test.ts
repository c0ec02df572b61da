// The embedded database's first start: initdb runs in a child process (so the master does not keep its memory),
// the directory it leaves opens and migrates in the master, and a directory that cannot be created is a clear error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initPgliteDataDir, openDatabase } from '../../master/src/db/database';

describe('embedded database directory', () => {
  it('is created by a child process, then opened and migrated, and kept as it is on the next start', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-pglite-init-'));
    const dir = path.join(dataDir, 'pgdata');
    fs.mkdirSync(dir);
    await initPgliteDataDir(dir);
    expect(fs.readFileSync(path.join(dir, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);
    const db = await openDatabase({ dataDir });
    await db.query("INSERT INTO projects (name) VALUES ('kept')");
    await db.close();
    const stamp = fs.statSync(path.join(dir, 'PG_VERSION')).mtimeMs;
    await initPgliteDataDir(dir); // already there: untouched
    expect(fs.statSync(path.join(dir, 'PG_VERSION')).mtimeMs).toBe(stamp);
    const again = await openDatabase({ dataDir });
    const migrations = await again.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(migrations.rows[0]!.n).toBeGreaterThan(0);
    const kept = await again.query("SELECT 1 FROM projects WHERE name = 'kept'");
    expect(kept.rows.length).toBe(1);
    await again.close();
  }, 120_000);

  it('names the directory when it cannot be created', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hone-pglite-bad-')), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    await expect(initPgliteDataDir(file)).rejects.toThrow(file);
  }, 120_000);
});
