// What the harness calls with its task token: allocation info, searcher operations, preemption, rendezvous.
import { Type } from 'typebox';
import type { AllocationInfo, ExperimentConfig, SearcherOperation } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import { CompleteOperationBodySchema as CompleteOperationBody, RendezvousBodySchema as RendezvousBody } from '@hone/protocol/schemas';
import { HoneError, notFound } from '../errors';
import { toCheckpointInfo } from '../experiments/rows';
import type { App, MasterContext } from '../server';
import { authenticateTask, authenticateTrialTask } from './auth';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const AllocParams = Type.Object({ aid: Type.String({ minLength: 1 }) });
const Wait = Type.Object({ wait_s: Type.Number({ minimum: 0, maximum: 300, default: 0 }) });

export function registerTaskRoutes(app: App, ctx: MasterContext): void {
  const ownAllocation = async (req: any, aid: string) => {
    const a = await authenticateTask(ctx, req);
    if (a.id !== aid) throw new HoneError('PERMISSION_DENIED', `this task token is not for allocation ${aid}`);
    return a;
  };

  app.get(`${API_PREFIX}/allocations/:aid/info`, { schema: { params: AllocParams, tags: ['harness'], querystring: Type.Object({ rank: Type.Integer({ minimum: 0, default: 0 }) }) } }, async (req): Promise<AllocationInfo> => {
    const a = await ownAllocation(req, req.params.aid);
    const r = await ctx.db.query<{ request_id: string; hparams: any; seed: number; config: ExperimentConfig; completed_length: number; latest_checkpoint: string | null; slots: number }>(
      `SELECT t.request_id, t.hparams, t.seed, e.config, t.completed_length, t.latest_checkpoint, al.slots
         FROM trials t JOIN experiments e ON e.id = t.experiment_id JOIN allocations al ON al.trial_id = t.id
        WHERE al.id = $1`,
      [a.id],
    );
    const row = r.rows[0]!;
    let latest = null;
    if (row.latest_checkpoint) {
      const c = await ctx.db.query('SELECT * FROM checkpoints WHERE uuid = $1', [row.latest_checkpoint]);
      if (c.rows[0]) latest = toCheckpointInfo(c.rows[0]);
    }
    return {
      allocationId: a.id,
      trialId: a.trial_id,
      experimentId: a.experiment_id,
      requestId: row.request_id,
      hparams: row.hparams,
      seed: Number(row.seed),
      config: row.config,
      latestCheckpoint: latest,
      completedLength: row.completed_length,
      rank: req.query.rank,
      worldSize: row.slots,
    };
  });

  const currentOp = async (trialId: number, allocationId: string): Promise<SearcherOperation> => {
    const r = await ctx.db.query<{ target_length: number; completed_length: number; closed: boolean; state: string; exp_state: string; preempt: boolean }>(
      `SELECT t.target_length, t.completed_length, t.closed, t.state, e.state AS exp_state, a.preempt_requested AS preempt
         FROM trials t JOIN experiments e ON e.id = t.experiment_id JOIN allocations a ON a.id = $2 WHERE t.id = $1`,
      [trialId, allocationId],
    );
    const t = r.rows[0];
    if (!t) throw notFound('trial', trialId);
    if (t.closed || t.state !== 'ACTIVE' || t.exp_state === 'STOPPING_CANCELED') return { op: null, closed: true };
    if (t.target_length > t.completed_length && t.exp_state === 'ACTIVE' && !t.preempt) return { op: { length: t.target_length }, closed: false };
    return { op: null, closed: false };
  };

  app.get(`${API_PREFIX}/trials/:id/searcher/operation`, { schema: { params: IdParams, querystring: Wait, tags: ['harness'] } }, async (req, reply) => {
    const { id } = req.params;
    const a = await authenticateTrialTask(ctx, req, id);
    let op = await currentOp(id, a.id);
    // The searcher decides synchronously when a validation is reported, so a trial with no operation now is
    // paused (e.g. waiting at an ASHA rung): answer quickly so that it gives its slot back instead of idling.
    // A later promotion starts a new allocation that resumes from the checkpoint.
    const waitS = Math.min(req.query.wait_s, 1);
    if (!op.op && !op.closed && waitS > 0) {
      const ac = new AbortController();
      reply.raw.on('close', () => ac.abort());
      const deadline = Date.now() + waitS * 1000;
      while (!op.op && !op.closed && Date.now() < deadline && !ac.signal.aborted) {
        await ctx.bus.waitFor((e) => (e.type === 'trialOp' && e.trialId === id) || (e.type === 'allocation' && e.allocationId === a.id), Math.min(2000, deadline - Date.now()), ac.signal);
        op = await currentOp(id, a.id);
      }
    }
    return op;
  });

  app.post(`${API_PREFIX}/trials/:id/searcher/completed_operation`, { schema: { params: IdParams, body: CompleteOperationBody, tags: ['harness'] } }, async (req) => {
    const { id } = req.params;
    await authenticateTrialTask(ctx, req, id, { live: true });
    await ctx.experiments.completeOperation(id, req.body.length, req.body.metric);
    ctx.rm.requestPass();
    return {};
  });

  app.get(`${API_PREFIX}/allocations/:aid/preemption`, { schema: { params: AllocParams, querystring: Wait, tags: ['harness'] } }, async (req, reply) => {
    const a = await ownAllocation(req, req.params.aid);
    const check = async () => {
      const r = await ctx.db.query<{ p: boolean; k: boolean; s: string }>('SELECT preempt_requested AS p, kill_requested AS k, state AS s FROM allocations WHERE id = $1', [a.id]);
      const row = r.rows[0];
      return !row || row.p || row.k || row.s === 'TERMINATED';
    };
    let preempt = await check();
    if (!preempt && req.query.wait_s > 0) {
      const ac = new AbortController();
      reply.raw.on('close', () => ac.abort());
      await ctx.bus.waitFor((e) => e.type === 'allocation' && e.allocationId === a.id, req.query.wait_s * 1000, ac.signal);
      preempt = await check();
    }
    return { preempt };
  });

  app.post(`${API_PREFIX}/allocations/:aid/rendezvous`, { schema: { params: AllocParams, body: RendezvousBody, tags: ['harness'] } }, async (req) => {
    const a = await ownAllocation(req, req.params.aid);
    const { rank, address } = req.body;
    const r = await ctx.db.query<{ slots: number }>('SELECT slots FROM allocations WHERE id = $1', [a.id]);
    const size = r.rows[0]!.slots;
    if (rank >= size) throw new HoneError('INVALID_ARGUMENT', `rank: must be < world size ${size}, got ${rank}`);
    await ctx.db.query(`UPDATE allocations SET rendezvous = rendezvous || jsonb_build_object($2::text, $3::text) WHERE id = $1`, [a.id, String(rank), address]);
    ctx.bus.publish({ type: 'allocation', allocationId: a.id });
    return {};
  });

  app.get(`${API_PREFIX}/allocations/:aid/rendezvous`, { schema: { params: AllocParams, querystring: Wait, tags: ['harness'] } }, async (req, reply) => {
    const a = await ownAllocation(req, req.params.aid);
    const read = async () => {
      const r = await ctx.db.query<{ slots: number; rendezvous: Record<string, string> }>('SELECT slots, rendezvous FROM allocations WHERE id = $1', [a.id]);
      const { slots, rendezvous } = r.rows[0]!;
      const addresses = Array.from({ length: slots }, (_, i) => rendezvous[String(i)]);
      return { slots, addresses, complete: addresses.every((x) => typeof x === 'string') };
    };
    let s = await read();
    const deadline = Date.now() + req.query.wait_s * 1000;
    const ac = new AbortController();
    reply.raw.on('close', () => ac.abort());
    while (!s.complete && Date.now() < deadline && !ac.signal.aborted) {
      await ctx.bus.waitFor((e) => e.type === 'allocation' && e.allocationId === a.id, Math.min(1000, deadline - Date.now()), ac.signal);
      s = await read();
    }
    if (!s.complete) {
      const have = s.addresses.filter(Boolean).length;
      throw new HoneError('CONFLICT', `rendezvous incomplete: ${have} of ${s.slots} ranks have posted their address`);
    }
    return { addresses: s.addresses as string[] };
  });
}
