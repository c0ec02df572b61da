// Task tokens: each allocation has a random bearer token that its harness ranks (and the agent, for the
// model directory) present. A token only grants access to its own allocation, trial and experiment.
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db';
import { findByToken, type TaskIdentity } from '../db/allocations';
import { HoneError } from '../errors';
import type { EventBus } from '../events';

export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m ? m[1]!.trim() : null;
}

/** Tokens are looked up once and remembered briefly: the harness sends many small requests. */
const TOKEN_CACHE_MS = 2000;
const TOKEN_CACHE_MAX = 10_000;

/**
 * A task token works only while its allocation lives: once the allocation has ended (or was declared lost), a
 * harness left running with it can no longer write metrics, checkpoints or logs, nor read the experiment's code.
 */
export class TaskAuth {
  private readonly cache = new Map<string, { identity: TaskIdentity; until: number }>();
  constructor(
    private readonly db: Database,
    bus: EventBus,
  ) {
    // An allocation that changed (ended, among others) is looked up again on its next request.
    bus.subscribe((e) => {
      if (e.type !== 'allocation') return;
      for (const [token, hit] of this.cache) if (hit.identity.id === e.allocationId) this.cache.delete(token);
    });
  }

  async task(req: FastifyRequest): Promise<TaskIdentity> {
    const token = bearer(req);
    if (!token) throw new HoneError('UNAUTHENTICATED', 'missing task token (Authorization: Bearer ...)');
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now) return hit.identity;
    const a = await findByToken(this.db, token);
    if (!a) throw new HoneError('UNAUTHENTICATED', 'unknown task token');
    if (a.state === 'TERMINATED') throw new HoneError('UNAUTHENTICATED', `the task token of allocation ${a.id} expired with it: the allocation has ended`);
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

  /** The token must belong to an allocation of `trialId` (which, like every task token, has not ended). */
  async trial(req: FastifyRequest, trialId: number): Promise<TaskIdentity> {
    const a = await this.task(req);
    if (a.trial_id !== trialId) throw new HoneError('PERMISSION_DENIED', `this task token is not for trial ${trialId}`);
    return a;
  }
}
