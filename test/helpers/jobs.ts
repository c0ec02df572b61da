// Starting masters for the background-job tests in either mode: in-process (no Redis) or BullMQ on the real
// Redis under a key prefix of the test's own.
import { REDIS_URL, redisPrefix } from './services';

export type JobMode = 'in-process' | 'bullmq';

/** Master environment for a job mode: fast retries, and for BullMQ the test Redis with a fresh prefix. */
export function jobEnv(mode: JobMode, name: string, prefix = redisPrefix(name)): Record<string, string> {
  return {
    HONE_JOB_RETRY_BASE_MS: '300',
    ...(mode === 'bullmq' ? { HONE_REDIS_URL: REDIS_URL, HONE_REDIS_PREFIX: prefix } : { HONE_REDIS_URL: '' }),
  };
}
