// Task tokens: each allocation has a random bearer token that its harness ranks (and the agent, for the
// model directory) present. A token only grants access to its own allocation, trial and experiment.
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db';
import { findByToken, getStopState, type TaskIdentity } from '../db/allocations';
import { HoneError } from '../errors';

export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m ? m[1]!.trim() : null;
}

/** Tokens are looked up once and remembered briefly: the harness sends many small requests. */
const TOKEN_CACHE_MS = 2000;
const TOKEN_CACHE_MAX = 10_000;

export class TaskAuth {
  private readonly cache = new Map<string, { identity: TaskIdentity; until: number }>();
  constructor(private readonly db: Database) {}

  async task(req: FastifyRequest): Promise<TaskIdentity> {
    const token = bearer(req);
    if (!token) throw new HoneError('UNAUTHENTICATED', 'missing task token (Authorization: Bearer ...)');
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now) return hit.identity;
    const a = await findByToken(this.db, token);
    if (!a) throw new HoneError('UNAUTHENTICATED', 'unknown task token');
    if (this.cache.size > TOKEN_CACHE_MAX) this.cache.clear();
    this.cache.set(token, { identity: a, until: now + TOKEN_CACHE_MS });
    return a;
  }

  /** The token must belong to allocation `allocationId`. */
  async allocation(req: FastifyRequest, allocationId: string): Promise<TaskIdentity> {
    const a = await this.task(req);
    if (a.id !== allocationId) throw new HoneError('PERMISSION_DENIED', `this task token is not for allocation ${allocationId}`);
    return a;
  }

  /** The token must belong to an allocation of experiment `experimentId`. */
  async experiment(req: FastifyRequest, experimentId: number): Promise<TaskIdentity> {
    const a = await this.task(req);
    if (a.experiment_id !== experimentId) throw new HoneError('PERMISSION_DENIED', 'this task token is not for that experiment');
    return a;
  }

  /**
   * The token must belong to an allocation of `trialId`. With `live`, the allocation must not have ended: a
   * harness left running after its allocation was declared lost (its agent vanished) must not write metrics or
   * checkpoints next to the allocation that replaced it.
   */
  async trial(req: FastifyRequest, trialId: number, opts: { live?: boolean } = {}): Promise<TaskIdentity> {
    const a = await this.task(req);
    if (a.trial_id !== trialId) throw new HoneError('PERMISSION_DENIED', `this task token is not for trial ${trialId}`);
    if (opts.live) {
      const s = await getStopState(this.db, a.id);
      if (s?.state === 'TERMINATED') throw new HoneError('CONFLICT', `allocation ${a.id} has ended; this task must stop`);
    }
    return a;
  }
}
