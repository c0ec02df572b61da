// Task tokens: each allocation has a random bearer token that its harness ranks (and the agent, for the
// model directory) present. A token only grants access to its own allocation, trial and experiment.
import type { FastifyRequest } from 'fastify';
import { HoneError } from '../errors';
import type { MasterContext } from '../server';

export interface TaskIdentity {
  id: string;
  trial_id: number;
  experiment_id: number;
  state: string;
}

export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m ? m[1]!.trim() : null;
}

// Tokens are looked up once and remembered briefly: the harness sends many small requests.
const tokenCache = new Map<string, { identity: TaskIdentity; until: number }>();
const TOKEN_CACHE_MS = 2000;

export async function authenticateTask(ctx: MasterContext, req: FastifyRequest): Promise<TaskIdentity> {
  const token = bearer(req);
  if (!token) throw new HoneError('UNAUTHENTICATED', 'missing task token (Authorization: Bearer ...)');
  const now = Date.now();
  const hit = tokenCache.get(token);
  if (hit && hit.until > now) return hit.identity;
  const r = await ctx.db.query<TaskIdentity>('SELECT id, trial_id, experiment_id, state FROM allocations WHERE token = $1', [token]);
  const a = r.rows[0];
  if (!a) throw new HoneError('UNAUTHENTICATED', 'unknown task token');
  if (tokenCache.size > 10_000) tokenCache.clear();
  tokenCache.set(token, { identity: a, until: now + TOKEN_CACHE_MS });
  return a;
}

/**
 * Checks that the token belongs to an allocation of `trialId`. With `live`, the allocation must not have ended:
 * a harness left running after its allocation was declared lost (its agent vanished) must not write metrics or
 * checkpoints next to the allocation that replaced it.
 */
export async function authenticateTrialTask(ctx: MasterContext, req: FastifyRequest, trialId: number, opts: { live?: boolean } = {}): Promise<TaskIdentity> {
  const a = await authenticateTask(ctx, req);
  if (a.trial_id !== trialId) throw new HoneError('PERMISSION_DENIED', `this task token is not for trial ${trialId}`);
  if (opts.live) {
    const r = await ctx.db.query<{ state: string }>('SELECT state FROM allocations WHERE id = $1', [a.id]);
    if (r.rows[0]?.state === 'TERMINATED') throw new HoneError('CONFLICT', `allocation ${a.id} has ended; this task must stop`);
  }
  return a;
}
