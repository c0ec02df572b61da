// The master process: fastify REST API + WebSockets, the experiment controller and the resource manager.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import compress from '@fastify/compress';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import pino from 'pino';
import type { MasterInfo } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { MAX_AGENT_FRAME_BYTES } from '@hone/protocol/agentSchemas';
import { DEFAULT_OPTIONS, type App, type MasterContext, type MasterOptions } from './context';
import { openDatabase } from './db';
import { EventBus } from './events';
import { ExperimentController } from './experiments/controller';
import { MetricStore } from './experiments/metricStore';
import { AgentHub } from './rm/agents/agentHub';
import { AgentResourceManager } from './rm/agents/agentResourceManager';
import { CompositeResourceManager } from './rm/compositeResourceManager';
import { parseKubernetesPool, type KubernetesPoolConfig } from './rm/kubernetes/config';
import type { ResourceManager } from './rm/resourceManager';
import { ERROR_CODES } from './errors';
import { errorHandler } from './api/errorHandler';
import { registerExperimentRoutes } from './api/experiments';
import { registerTrialRoutes } from './api/trials';
import { registerTaskRoutes } from './api/tasks';
import { registerCheckpointRoutes } from './api/checkpoints';
import { registerClusterRoutes } from './api/cluster';
import { registerStreamRoutes } from './api/stream';
import { registerAgentSocket } from './api/agentSocket';
import { registerPrometheus } from './api/prometheus';
import { TaskAuth } from './api/taskAuth';
import { registerAuthHook } from './api/authHook';
import { registerAuthRoutes } from './api/auth';
import { registerUserRoutes } from './api/users';
import { registerProjectRoutes } from './api/projects';
import { registerModelRoutes } from './api/models';
import { registerRunRoutes } from './api/runs';
import { ensureAdmin } from './auth/bootstrap';
import { UserAuth } from './auth/userAuth';
import { startJobSystem, type JobSystem } from './jobs';
import { registerWebhookRoutes } from './api/webhooks';
import { checkProviderConfigs, Provisioner } from './provisioner';
import { registerProvisionerRoutes } from './api/provisioner';
import { registerForecastRoutes } from './api/forecast';

export { DEFAULT_OPTIONS, type MasterOptions } from './context';

export interface Master {
  app: App;
  ctx: MasterContext;
  url: string;
  /** The `admin` password, when this start created the user with a generated one (show it once). */
  generatedAdminPassword?: string;
  /** Where the agent token is kept, when the master made one because it listens beyond loopback. */
  agentTokenFile?: string;
  /** Background jobs: the outbox relay and its queue. */
  jobs: JobSystem;
  close(): Promise<void>;
}

export async function startMaster(partial: Partial<MasterOptions> = {}): Promise<Master> {
  const opts: MasterOptions = { ...DEFAULT_OPTIONS, ...partial };
  const kubernetesPools = checkPoolConfigs(opts.resourcePools);
  const providerConfigs = checkProviderConfigs(opts.resourcePools);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  // Every component logs through a child of one root, each naming itself once.
  const root = opts.logStream ? pino({ level: opts.logLevel }, opts.logStream) : pino({ level: opts.logLevel });
  const log = root.child({ component: 'master' });
  const db = await openDatabase(opts.dbUrl ? { url: opts.dbUrl } : { dataDir: opts.dataDir });
  log.info({ database: db.kind }, 'database ready');
  const admin = await ensureAdmin(db, opts.adminPassword);
  if (admin.created) log.info({ user: 'admin' }, 'created the first user');
  // Off loopback, agents must prove they are ours: use the configured token, or one kept in the data directory.
  const agentTokenFile = isLoopback(opts.host) || opts.agentToken ? undefined : ensureAgentToken(opts);
  const bus = new EventBus();
  let url = '';
  // The controller stops allocations through the resource manager's seam; the manager needs the controller.
  let agentRm: AgentResourceManager | null = null;
  let rm: ResourceManager | null = null;
  const experiments = new ExperimentController(db, bus, (tx, id, how, reason) => rm!.releaseExperiment(tx, id, how, reason));

  // The model directory travels base64-encoded inside the JSON body of POST /experiments: room for it, plus the
  // config. Every other JSON body is far smaller.
  const contextBodyLimit = Math.ceil(opts.maxContextBytes * 1.37) + 1024 * 1024;
  const bodyLimit = Math.min(contextBodyLimit, DEFAULT_BODY_LIMIT);
  const https = opts.tlsCert || opts.tlsKey ? tlsOptions(opts) : null;
  const app = Fastify({
    ...(https ? { https } : {}),
    // Request lines are noise at info level; errors still reach the log through the error handler.
    loggerInstance: root.child({ component: 'http' }, { level: ['debug', 'trace', 'error', 'fatal', 'silent'].includes(opts.logLevel) ? opts.logLevel : 'warn' }),
    bodyLimit,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const checkpointDir = path.join(opts.dataDir, 'checkpoints');
  fs.mkdirSync(checkpointDir, { recursive: true });
  const hub = new AgentHub(
    { onHello: (a, r) => agentRm!.onHello(a, r), onMessage: (a, m) => agentRm!.onMessage(a, m), onDisconnect: (a) => agentRm!.onDisconnect(a) },
    root.child({ component: 'agents' }),
  );
  const scheduling = { policy: opts.schedulerPolicy, fit: opts.fit, preemption: opts.preemption } as const;
  agentRm = new AgentResourceManager(db, bus, experiments, hub, {
    masterUrl: () => url,
    agentGraceMs: opts.agentGraceMs,
    preemptionTimeoutMs: opts.preemptionTimeoutMs,
    scheduling,
    log: root.child({ component: 'rm' }),
    otherPool: (pool) => kubernetesPools.some((p) => p.pool === pool),
  });
  rm = agentRm;
  // Pools declared `resource_manager: {type: kubernetes}` run their trials as pods (rm/kubernetes/).
  if (kubernetesPools.length) {
    // Loaded only when a pool needs it: the Kubernetes client is large, and most masters never use it.
    const { KubernetesResourceManager } = await import('./rm/kubernetes/kubernetesResourceManager');
    const k8s = new KubernetesResourceManager(db, bus, experiments, kubernetesPools, {
      masterUrl: () => url,
      agentGraceMs: opts.agentGraceMs,
      preemptionTimeoutMs: opts.preemptionTimeoutMs,
      scheduling,
      log: root.child({ component: 'rm-kubernetes' }),
    });
    rm = new CompositeResourceManager(agentRm, [k8s]);
  }
  const rmReady = rm;
  const ctx: MasterContext = {
    opts,
    db,
    bus,
    experiments,
    metrics: new MetricStore(db, bus),
    rm,
    agents: hub,
    taskAuth: new TaskAuth(db, bus),
    userAuth: new UserAuth(db, bus),
    bodyLimits: { default: bodyLimit, context: contextBodyLimit },
    log,
    checkpointDir,
    masterUrl: () => url,
  };

  app.setErrorHandler(errorHandler(contextBodyLimit, opts.retryAfterS));
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/') || !opts.webuiDir) {
      return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
    }
    // single-page app: unknown paths get index.html
    return reply.type('text/html').sendFile('index.html');
  });

  await app.register(swagger, {
    openapi: { info: { title: 'Hone master API', version: '0.1.0' }, servers: [] },
  });
  await app.register(websocket, { options: { maxPayload: MAX_AGENT_FRAME_BYTES } });
  await app.register(rateLimit, { global: false });
  // Security headers on every answer; the policy is what the web UI needs and nothing more.
  await app.register(helmet, { contentSecurityPolicy: { directives: WEBUI_CSP }, crossOriginEmbedderPolicy: false });
  registerAuthHook(app, ctx);
  // Large JSON answers (experiment detail, curves of many trials) shrink several times; gzip is cheap enough.
  await app.register(compress, { global: true, threshold: 8192, encodings: ['gzip', 'deflate'] });
  // Checkpoint files arrive as a raw stream that the route writes to disk as it comes (never buffered whole).
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  registerAuthRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerExperimentRoutes(app, ctx);
  registerTrialRoutes(app, ctx);
  registerTaskRoutes(app, ctx);
  registerCheckpointRoutes(app, ctx);
  registerClusterRoutes(app, ctx);
  registerStreamRoutes(app, ctx);
  registerAgentSocket(app, ctx);
  // Pools with a provider grow and shrink (provisioner/); the reconcilers start once the master listens.
  const provisioner = await Provisioner.create(
    {
      db,
      dataDir: opts.dataDir,
      masterUrl: () => url,
      ...(opts.agentToken ? { agentToken: opts.agentToken } : {}),
      agents: () => [...hub.agents.values()].map((a) => ({ id: a.id, pool: a.pool, slots: a.devices.length })),
      onChange: () => bus.publish({ type: 'cluster' }),
      log: root.child({ component: 'provisioner' }),
    },
    providerConfigs,
  );
  // A provisioned pool can hold what its instances could, not only what has joined so far.
  const agentsFit = rmReady.canEverFit.bind(rmReady);
  rmReady.canEverFit = async (pool, slots) => provisioner.canEverFit(pool, slots) ?? agentsFit(pool, slots);
  registerProvisionerRoutes(app, ctx, provisioner);
  registerForecastRoutes(app, ctx, provisioner);
  registerPrometheus(app, ctx, provisioner);
  registerWebhookRoutes(app, ctx);
  registerProjectRoutes(app, ctx);
  registerModelRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  app.get(`${API_PREFIX}/master`, { config: { auth: 'public' } }, async (): Promise<MasterInfo> => ({ version: '0.1.0', database: db.kind, authRequired: true, codes: ERROR_CODES }));

  const webuiDir = opts.webuiDir ?? defaultWebuiDir();
  if (webuiDir && fs.existsSync(path.join(webuiDir, 'index.html'))) {
    opts.webuiDir = webuiDir;
    await app.register(fastifyStatic, { root: webuiDir, prefix: '/', wildcard: false, preCompressed: true });
  } else {
    opts.webuiDir = undefined;
    app.get('/', async (_req, reply) =>
      reply.type('text/html').send('<h1>Hone master</h1><p>The web UI is not built; run <code>npm run build</code>. API: /api/v1</p>'),
    );
  }

  await app.listen({ port: opts.port, host: opts.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  url = opts.advertisedUrl ?? `${https ? 'https' : 'http'}://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  await experiments.reconcile();
  rmReady.start();
  provisioner.start();
  if (provisioner.pools.length) bus.subscribe((e) => e.type === 'cluster' || e.type === 'allocation' ? provisioner.kick() : undefined);
  // Checkpoint GC, deletions, webhooks and log retention: outbox jobs, run in-process or on BullMQ.
  const jobs = await startJobSystem(
    { db, bus, checkpointDir, log: root.child({ component: 'jobs' }) },
    { redisUrl: opts.redisUrl, redisPrefix: opts.redisPrefix, logRetentionDays: opts.logRetentionDays, logRetentionIntervalMs: opts.logRetentionIntervalMs, retryBaseMs: opts.jobRetryBaseMs, pollMs: 1000 },
  );
  log.info({ url }, 'master listening');
  if (agentTokenFile) log.warn({ file: agentTokenFile }, `listening beyond loopback: agents must present the agent token kept in ${agentTokenFile}`);
  return {
    app,
    ctx,
    url,
    ...(admin.generatedPassword ? { generatedAdminPassword: admin.generatedPassword } : {}),
    ...(agentTokenFile ? { agentTokenFile } : {}),
    jobs,
    async close() {
      experiments.stop();
      await provisioner.stop();
      await jobs.close();
      await rmReady.stop();
      hub.closeAll();
      await app.close();
      await db.close();
    },
  };
}

/** Largest JSON body of any route but POST /experiments (which carries the model directory). */
const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * The Content Security Policy of the web UI: its own scripts, styles, images, fonts and connections only (the
 * live stream is a same-origin WebSocket, which 'self' covers); the UI sets styles from script, never in markup,
 * so no inline styles are allowed either. Nothing framed, no plugins.
 */
const WEBUI_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  // A master on a LAN address may serve plain HTTP: never make the browser ask for its assets over https.
  upgradeInsecureRequests: null,
};

function tlsOptions(opts: MasterOptions): { cert: Buffer; key: Buffer } {
  if (!opts.tlsCert || !opts.tlsKey) throw new Error('TLS needs both --tls-cert and --tls-key');
  const read = (file: string, what: string) => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new Error(`${what}: cannot read ${file} (${(e as Error).message})`);
    }
  };
  return { cert: read(opts.tlsCert, '--tls-cert'), key: read(opts.tlsKey, '--tls-key') };
}

/**
 * Refuses pools whose resource manager or provider this master cannot run, naming the pool and the field.
 * Returns the checked Kubernetes pools.
 */
function checkPoolConfigs(pools: MasterOptions['resourcePools']): KubernetesPoolConfig[] {
  const kubernetes: KubernetesPoolConfig[] = [];
  for (const [i, p] of pools.entries()) {
    if (p.resource_manager.type === 'kubernetes') kubernetes.push(parseKubernetesPool(i, p.name, p.resource_manager));
    else if (p.resource_manager.type !== 'agent') {
      throw new Error(`resource_pools[${i}].resource_manager.type: "${p.resource_manager.type}" is not supported (supported: agent, kubernetes)`);
    }
  }
  return kubernetes;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The agent token of a master that listens beyond loopback without one: made once, kept in the data directory. */
function ensureAgentToken(opts: MasterOptions): string {
  const file = path.join(opts.dataDir, 'agent-token');
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${crypto.randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  opts.agentToken = fs.readFileSync(file, 'utf8').trim();
  return file;
}

function defaultWebuiDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '../../webui/dist');
}
