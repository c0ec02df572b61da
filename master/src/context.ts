// What every part of the master is handed: options, the database, the event bus and the services built from
// them. `server.ts` (the composition root) builds one; nothing below it imports `server.ts`.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Database } from './db';
import type { EventBus } from './events';
import type { ExperimentController } from './experiments/controller';
import type { MetricStore } from './experiments/metricStore';
import type { ResourceManager } from './rm/resourceManager';
import type { AgentHub } from './rm/agents/agentHub';
import type { TaskAuth } from './api/taskAuth';
import type { UserAuth } from './auth/userAuth';
import type { ResourcePoolConfig } from './config/masterConfig';
import { DEFAULT_MAX_GRID_POINTS } from '@hone/protocol/grid';

export interface MasterOptions {
  port: number;
  host: string;
  dataDir: string;
  dbUrl?: string;
  /** Agents must present this token; empty means no check (local cluster). */
  agentToken?: string;
  /** URL agents and harnesses use to reach the master; defaults to http://127.0.0.1:<port>. */
  advertisedUrl?: string;
  /** Largest accepted model directory (gzipped tar), bytes. */
  maxContextBytes: number;
  /** Most bytes and entries a model directory may expand to (checked at upload, as the agent does at extraction). */
  maxContextExpandedBytes: number;
  maxContextEntries: number;
  /** Largest checkpoint file the master stores (master-hosted storage). */
  maxCheckpointFileBytes: number;
  /** Largest grid search accepted, in points (the product of every hyperparameter's value count). */
  maxGridPoints: number;
  agentGraceMs: number;
  preemptionTimeoutMs: number;
  schedulerPolicy: 'priority' | 'fair_share';
  fit: 'best' | 'worst';
  preemption: boolean;
  /** How long a sign-in session lasts. */
  sessionTtlMs: number;
  /** PEM files: with both, the master serves HTTPS and WSS only. */
  tlsCert?: string;
  tlsKey?: string;
  /** Serve /metrics without a token (for Prometheus on a private network). */
  metricsPublic: boolean;
  /** Password of the `admin` user created when the database has no user; generated and printed when absent. */
  adminPassword?: string;
  logLevel: string;
  /** Where log lines (JSON, one per line) go; default stdout. */
  logStream?: { write(line: string): void };
  webuiDir?: string;
  /** Resource pools declared in the configuration file (`resource_pools`); agents may still join others. */
  resourcePools: ResourcePoolConfig[];
  /** Redis for background jobs (BullMQ); unset runs them in-process. */
  redisUrl?: string;
  /** Prefix of the master's keys in Redis (one per cluster sharing a Redis). */
  redisPrefix: string;
  /** Delete task log lines older than this many days; unset keeps them forever. */
  logRetentionDays?: number;
  /** How often log retention runs. */
  logRetentionIntervalMs: number;
  /** Base of the exponential backoff between attempts of a background job. */
  jobRetryBaseMs: number;
  /** Seconds a client is told to wait (Retry-After) while the database is unavailable. */
  retryAfterS: number;
}

export const DEFAULT_OPTIONS: MasterOptions = {
  port: 8080,
  host: '127.0.0.1',
  dataDir: path.resolve('.hone'),
  maxContextBytes: 96 * 1024 * 1024,
  maxGridPoints: DEFAULT_MAX_GRID_POINTS,
  maxCheckpointFileBytes: 4 * 1024 * 1024 * 1024,
  maxContextExpandedBytes: 1024 * 1024 * 1024,
  maxContextEntries: 20_000,
  agentGraceMs: 60_000,
  preemptionTimeoutMs: 60_000,
  schedulerPolicy: 'priority',
  fit: 'best',
  preemption: true,
  sessionTtlMs: 7 * 24 * 3600 * 1000,
  metricsPublic: false,
  logLevel: 'info',
  resourcePools: [],
  redisPrefix: 'hone',
  logRetentionIntervalMs: 3600_000,
  jobRetryBaseMs: 1000,
  retryAfterS: 2,
};

export interface MasterContext {
  opts: MasterOptions;
  db: Database;
  bus: EventBus;
  experiments: ExperimentController;
  metrics: MetricStore;
  rm: ResourceManager;
  /** Agent connections (the agent resource manager's sockets). */
  agents: AgentHub;
  taskAuth: TaskAuth;
  userAuth: UserAuth;
  /** Largest JSON body: of most routes, and of POST /experiments (it carries the model directory). */
  bodyLimits: { default: number; context: number };
  log: Logger;
  /** Where master-hosted checkpoints live. */
  checkpointDir: string;
  /** The URL agents and harnesses use to reach this master, known once it listens. */
  masterUrl(): string;
}

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;
