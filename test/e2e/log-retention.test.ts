// --log-retention-days on a real master process (PostgreSQL), with jobs in-process and on BullMQ (a job
// scheduler in Redis): log lines older than the retention are deleted, newer ones kept.
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/src/db/database';
import { insertLogs, tailLogs } from '../../master/src/db/logs';
import { addExperimentWithTrial } from '../db/fixtures';
import { startMasterProcess, tmpDir, waitFor, type MasterProc } from '../helpers/processes';
import { dropRedisPrefix, freshDatabase, postgresAvailable, redisAvailable, redisPrefix } from '../helpers/services';
import { jobEnv, type JobMode } from '../helpers/jobs';

const hasPostgres = await postgresAvailable();
const hasRedis = await redisAvailable();

describe.each(['in-process', 'bullmq'] as JobMode[])('log retention (jobs %s)', (mode) => {
  const prefix = redisPrefix('retention');
  let master: MasterProc | undefined;
  let db: Database | undefined;
  let drop: () => Promise<void> = async () => undefined;
  afterAll(async () => {
    await master?.kill('SIGKILL');
    await db?.close();
    await drop();
    if (mode === 'bullmq' && hasRedis) await dropRedisPrefix(prefix);
  });

  it.skipIf(!hasPostgres || (mode === 'bullmq' && !hasRedis))('deletes log lines older than --log-retention-days', async () => {
    const fresh = await freshDatabase('hone_retention');
    drop = fresh.drop;
    master = await startMasterProcess({
      dataDir: tmpDir('retention'),
      dbUrl: fresh.url,
      args: ['--log-retention-days', '7'],
      env: { ...jobEnv(mode, 'retention', prefix), HONE_LOG_RETENTION_INTERVAL_S: '1' },
    });
    db = await openDatabase({ url: fresh.url, migrate: false });
    const { trialId } = await addExperimentWithTrial(db);
    const line = (text: string, daysAgo: number) => ({
      allocationId: null, agentId: null, rank: 0, stream: 'stdout', level: 'INFO', ts: new Date(Date.now() - daysAgo * 86400_000).toISOString(), line: text,
    });
    await insertLogs(db, trialId, [line('eight days old', 8), line('six days old', 6), line('just now', 0)]);
    await waitFor('the old line to be deleted', async () => (await tailLogs(db!, trialId, 10)).length === 2, 60_000, 250);
    expect((await tailLogs(db, trialId, 10)).map((l) => l.line)).toEqual(['six days old', 'just now']);
  }, 180_000);
});
