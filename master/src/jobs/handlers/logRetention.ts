// Log retention: a periodic job that deletes task log lines older than --log-retention-days.
import type { Logger } from 'pino';
import type { Database } from '../../db';
import { deleteLogsOlderThan } from '../../db/logs';
import type { JobHandler } from '../types';

export const LOG_RETENTION = 'logRetention';

export function logRetentionHandler(deps: { db: Database; log: Logger }): JobHandler<{ days: number }> {
  return {
    kind: LOG_RETENTION,
    maxAttempts: 3,
    async run({ days }) {
      const n = await deleteLogsOlderThan(deps.db, days);
      if (n) deps.log.info({ deleted: n, days }, 'log retention deleted old task log lines');
    },
  };
}
