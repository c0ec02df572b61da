// `node --import tsx master/src/main.ts [--port N] [--data-dir DIR] [--db-url URL] ...` — the master process.
// Every flag has an environment variable (HONE_PORT, HONE_DATA_DIR, HONE_DB_URL, ...).
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { MasterConfigError, parseMasterConfig, type MasterConfigFile } from './config/masterConfig';
import { startMaster, DEFAULT_OPTIONS, type MasterOptions } from './server';

const OPTIONS = {
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    'db-url': { type: 'string' },
    'agent-token': { type: 'string' },
    'advertised-url': { type: 'string' },
    'max-context-mib': { type: 'string' },
    'max-grid-points': { type: 'string' },
    'max-checkpoint-file-mib': { type: 'string' },
    'max-context-expanded-mib': { type: 'string' },
    'max-context-files': { type: 'string' },
    'session-ttl-h': { type: 'string' },
    'metrics-public': { type: 'boolean' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'agent-grace-s': { type: 'string' },
    'preemption-timeout-s': { type: 'string' },
    'scheduler': { type: 'string' },
    'fit': { type: 'string' },
    'no-preemption': { type: 'boolean' },
    'log-level': { type: 'string' },
    'webui-dir': { type: 'string' },
    'redis-url': { type: 'string' },
    'redis-prefix': { type: 'string' },
    'log-retention-days': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    config: { type: 'string' },
} as const;
const { values } = parseArgs({ options: OPTIONS });

if (values.help) {
  console.log(`hone master

  --port N                 HTTP port (HONE_PORT, default 8080; 0 picks a free port)
  --host H                 bind address (HONE_HOST, default 127.0.0.1; 0.0.0.0 for remote agents)
  --data-dir DIR           embedded database, master-hosted checkpoints (HONE_DATA_DIR, default ./.hone)
  --db-url URL             use PostgreSQL instead of the embedded database (HONE_DB_URL)
  --agent-token T          agents must present this token (HONE_AGENT_TOKEN)
  --advertised-url URL     URL agents and trials use to reach the master (HONE_ADVERTISED_URL)
  --max-context-mib N      largest model directory accepted, compressed (HONE_MAX_CONTEXT_MIB, default 96)
  --max-grid-points N      largest grid search accepted, in points (HONE_MAX_GRID_POINTS, default 10000)
  --max-context-expanded-mib N  most a model directory may expand to (HONE_MAX_CONTEXT_EXPANDED_MIB, default 1024)
  --max-context-files N    most entries a model directory may hold (HONE_MAX_CONTEXT_FILES, default 20000)
  --max-checkpoint-file-mib N  largest checkpoint file kept by the master (HONE_MAX_CHECKPOINT_FILE_MIB, default 4096)
  --session-ttl-h N        how long a sign-in lasts (HONE_SESSION_TTL_H, default 168 = 7 days)
  --tls-cert FILE, --tls-key FILE  serve HTTPS and WSS with this certificate and key, PEM (HONE_TLS_CERT, HONE_TLS_KEY)
  --metrics-public         serve /metrics without a token (HONE_METRICS_PUBLIC=1), for Prometheus on a private network
  HONE_ADMIN_PASSWORD      password of the first user, admin, when the database has no user (else one is generated and printed)
  --agent-grace-s N        how long a vanished agent's tasks are kept before they are retried (default 60)
  --preemption-timeout-s N how long a preempted trial may take to checkpoint and exit (default 60)
  --scheduler P            priority | fair_share (HONE_SCHEDULER, default priority)
  --fit F                  best | worst (HONE_FIT, default best)
  --no-preemption          never preempt running trials
  --log-level L            pino level (HONE_LOG_LEVEL, default info)
  --webui-dir DIR          serve the web UI from DIR (HONE_WEBUI_DIR, default webui/dist)
  --config FILE            YAML file whose keys are these flags (db_url: ..., port: ...) plus resource_pools
                           (HONE_CONFIG); flags and environment variables override it
  --redis-url URL          run background jobs on BullMQ in this Redis (HONE_REDIS_URL; default: in-process)
  --redis-prefix P         prefix of the master's keys in Redis (HONE_REDIS_PREFIX, default hone)
  --log-retention-days N   delete task log lines older than N days, checked hourly (HONE_LOG_RETENTION_DAYS; default: keep)`);
  process.exit(0);
}

const env = process.env;
const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`hone master: ${name} must be a non-negative number, got "${v}"`);
    process.exit(2);
  }
  return n;
};
const oneOf = <T extends string>(v: string | undefined, name: string, allowed: T[]): T | undefined => {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) {
    console.error(`hone master: ${name} must be one of ${allowed.join(', ')}, got "${v}"`);
    process.exit(2);
  }
  return v as T;
};

// The configuration file, if any: its keys are the flags' names; flags, then environment variables, override it.
const configPath = values.config ?? env.HONE_CONFIG;
let file: MasterConfigFile = { flags: {}, resourcePools: [] };
if (configPath) {
  try {
    const flagTypes = Object.fromEntries(Object.entries(OPTIONS).map(([k, o]) => [k, o.type]));
    file = parseMasterConfig(fs.readFileSync(configPath, 'utf8'), configPath, flagTypes);
  } catch (e) {
    console.error(`hone master: ${e instanceof MasterConfigError ? e.message : `cannot read the config file ${configPath}: ${(e as Error).message}`}`);
    process.exit(2);
  }
}
/** A flag's value: the command line, else its environment variable, else the configuration file. */
function pick(flag: keyof typeof OPTIONS, envName: string): string | undefined {
  const v = (values as Record<string, string | boolean | undefined>)[flag] ?? env[envName] ?? file.flags[flag];
  return v === undefined || typeof v === 'boolean' ? (v === undefined ? undefined : String(v)) : v;
}
/** A switch: on when given on the command line, when its environment variable is 1, or true in the file. */
function on(flag: keyof typeof OPTIONS, envName: string): boolean {
  if ((values as Record<string, unknown>)[flag] === true) return true;
  if (env[envName] !== undefined && env[envName] !== '') return env[envName] === '1' || env[envName] === 'true';
  return file.flags[flag] === true;
}

/** An optional positive number: the fields it sets, or none when it is unset. */
function positive<T>(v: string | undefined, name: string, set: (n: number) => T): T | Record<string, never> {
  const n = num(v, name);
  if (n === undefined) return {};
  if (n <= 0) {
    console.error(`hone master: ${name} must be a positive number, got "${v}"`);
    process.exit(2);
  }
  return set(n);
}

const opts: Partial<MasterOptions> = {
  port: num(pick('port', 'HONE_PORT'), '--port') ?? DEFAULT_OPTIONS.port,
  host: pick('host', 'HONE_HOST') ?? DEFAULT_OPTIONS.host,
  dataDir: path.resolve(pick('data-dir', 'HONE_DATA_DIR') ?? DEFAULT_OPTIONS.dataDir),
  dbUrl: pick('db-url', 'HONE_DB_URL') ?? undefined,
  agentToken: pick('agent-token', 'HONE_AGENT_TOKEN') ?? undefined,
  advertisedUrl: pick('advertised-url', 'HONE_ADVERTISED_URL') ?? undefined,
  maxContextBytes: (num(pick('max-context-mib', 'HONE_MAX_CONTEXT_MIB'), '--max-context-mib') ?? 96) * 1024 * 1024,
  maxContextExpandedBytes: (num(pick('max-context-expanded-mib', 'HONE_MAX_CONTEXT_EXPANDED_MIB'), '--max-context-expanded-mib') ?? 1024) * 1024 * 1024,
  maxContextEntries: num(pick('max-context-files', 'HONE_MAX_CONTEXT_FILES'), '--max-context-files') ?? 20_000,
  maxCheckpointFileBytes: (num(pick('max-checkpoint-file-mib', 'HONE_MAX_CHECKPOINT_FILE_MIB'), '--max-checkpoint-file-mib') ?? 4096) * 1024 * 1024,
  sessionTtlMs: (num(pick('session-ttl-h', 'HONE_SESSION_TTL_H'), '--session-ttl-h') ?? 168) * 3600 * 1000,
  metricsPublic: on('metrics-public', 'HONE_METRICS_PUBLIC'),
  ...((pick('tls-cert', 'HONE_TLS_CERT')) ? { tlsCert: path.resolve((pick('tls-cert', 'HONE_TLS_CERT'))!) } : {}),
  ...((pick('tls-key', 'HONE_TLS_KEY')) ? { tlsKey: path.resolve((pick('tls-key', 'HONE_TLS_KEY'))!) } : {}),
  ...(env.HONE_ADMIN_PASSWORD ? { adminPassword: env.HONE_ADMIN_PASSWORD } : {}),
  maxGridPoints: num(pick('max-grid-points', 'HONE_MAX_GRID_POINTS'), '--max-grid-points') ?? DEFAULT_OPTIONS.maxGridPoints,
  agentGraceMs: (num(pick('agent-grace-s', 'HONE_AGENT_GRACE_S'), '--agent-grace-s') ?? 60) * 1000,
  preemptionTimeoutMs: (num(pick('preemption-timeout-s', 'HONE_PREEMPTION_TIMEOUT_S'), '--preemption-timeout-s') ?? 60) * 1000,
  schedulerPolicy: oneOf(pick('scheduler', 'HONE_SCHEDULER'), '--scheduler', ['priority', 'fair_share']) ?? 'priority',
  fit: oneOf(pick('fit', 'HONE_FIT'), '--fit', ['best', 'worst']) ?? 'best',
  preemption: !on('no-preemption', 'HONE_NO_PREEMPTION'),
  logLevel: pick('log-level', 'HONE_LOG_LEVEL') ?? 'info',
  ...(pick('webui-dir', 'HONE_WEBUI_DIR') ? { webuiDir: path.resolve(pick('webui-dir', 'HONE_WEBUI_DIR')!) } : {}),
  resourcePools: file.resourcePools,
  ...(pick('redis-url', 'HONE_REDIS_URL') ? { redisUrl: pick('redis-url', 'HONE_REDIS_URL')! } : {}),
  redisPrefix: pick('redis-prefix', 'HONE_REDIS_PREFIX') ?? DEFAULT_OPTIONS.redisPrefix,
  ...positive(pick('log-retention-days', 'HONE_LOG_RETENTION_DAYS'), '--log-retention-days', (n) => ({ logRetentionDays: n })),
  ...positive(env.HONE_LOG_RETENTION_INTERVAL_S, 'HONE_LOG_RETENTION_INTERVAL_S', (n) => ({ logRetentionIntervalMs: n * 1000 })),
  ...positive(env.HONE_JOB_RETRY_BASE_MS, 'HONE_JOB_RETRY_BASE_MS', (n) => ({ jobRetryBaseMs: n })),
};

try {
  const master = await startMaster(opts);
  if (master.generatedAdminPassword) {
    console.log(`Created the first user, admin, with password ${master.generatedAdminPassword} (shown once; change it with \`hone user change-password\`).`);
  }
  if (master.agentTokenFile) console.log(`Agents must present the agent token kept in ${master.agentTokenFile} (--token or HONE_AGENT_TOKEN).`);
  console.log(`Master listening at ${master.url}`);
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await master.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} catch (e) {
  console.error(`hone master: failed to start: ${(e as Error).message}`);
  process.exit(1);
}
