// What the harness calls with its task token: allocation info, searcher operations, preemption, rendezvous.
import { Type } from 'typebox';
import type { AllocationInfo, SearcherOperation } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import {
  CompleteOperationBodySchema as CompleteOperationBody,
  RendezvousBodySchema as RendezvousBody,
  ReportProgressBodySchema as ReportProgressBody,
} from '@hone/protocol/schemas';
import type { App, MasterContext } from '../context';
import * as allocationsDb from '../db/allocations';
import { getCheckpoint } from '../db/checkpoints';
import { getExperimentConfig } from '../db/experiments';
import { getOperationState, getTrialLaunchInfo } from '../db/trials';
import { HoneError, notFound } from '../errors';
import { longPoll } from './longPoll';
import { recordRunReproducibility } from './reproducibility';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const AllocParams = Type.Object({ aid: Type.String({ minLength: 1, maxLength: 64 }) });
const Wait = Type.Object({ wait_s: Type.Number({ minimum: 0, maximum: 300, default: 0 }) });

export function registerTaskRoutes(app: App, ctx: MasterContext): void {
  app.get(
    `${API_PREFIX}/allocations/:aid/info`,
    { config: { auth: 'task' }, schema: { params: AllocParams, tags: ['harness'], querystring: Type.Object({ rank: Type.Integer({ minimum: 0, default: 0 }) }) } },
    async (req): Promise<AllocationInfo> => {
      const a = await ctx.taskAuth.allocation(req, req.params.aid);
      const [trial, config, stop] = await Promise.all([
        getTrialLaunchInfo(ctx.db, a.trial_id),
        getExperimentConfig(ctx.db, a.experiment_id),
        allocationsDb.getStopState(ctx.db, a.id),
      ]);
      if (!trial || !config || !stop) throw notFound('allocation', a.id);
      // A warm-started trial (fork of a trial, continue, source_checkpoint_uuid) starts from its source checkpoint
      // until it has one of its own.
      const from = trial.latestCheckpoint ?? trial.sourceCheckpoint;
      const latest = from ? await getCheckpoint(ctx.db, from) : null;
      // Rank 0 asks before it trains: this run restarts from the checkpoint's step, so what earlier runs reported
      // after it is superseded by what this run will report (one value per step in every read).
      if (req.query.rank === 0) {
        await ctx.metrics.startRunAt(a.trial_id, a.experiment_id, latest?.stepsCompleted ?? 0);
        await recordRunReproducibility(ctx, a.id, a.trial_id, a.experiment_id, { seed: trial.seed, hparams: trial.hparams, config });
      }
      return {
        allocationId: a.id,
        trialId: a.trial_id,
        experimentId: a.experiment_id,
        requestId: trial.requestId,
        hparams: trial.hparams,
        seed: trial.seed,
        config,
        latestCheckpoint: latest,
        completedLength: trial.completedLength,
        rank: req.query.rank,
        worldSize: stop.slots,
      };
    },
  );

  const currentOp = async (trialId: number, allocationId: string): Promise<SearcherOperation> => {
    const [t, stop] = await Promise.all([getOperationState(ctx.db, trialId), allocationsDb.getStopState(ctx.db, allocationId)]);
    if (!t) throw notFound('trial', trialId);
    // A PAUSED trial (its experiment is paused) is not closed: it gets no work now and resumes when activated.
    if (t.closed || (t.state !== 'ACTIVE' && t.state !== 'PAUSED') || t.experimentState === 'STOPPING_CANCELED') return { op: null, closed: true };
    if (t.experimentState === 'ACTIVE' && !stop?.preemptRequested) {
      if (t.targetLength > t.completedLength) return { op: { length: t.targetLength }, closed: false };
      return { op: null, closed: false, paused: true };
    }
    return { op: null, closed: false };
  };

  app.get(`${API_PREFIX}/trials/:id/searcher/operation`, { config: { auth: 'task' }, schema: { params: IdParams, querystring: Wait, tags: ['harness'] } }, async (req, reply) => {
    const { id } = req.params;
    const a = await ctx.taskAuth.trial(req, id);
    // The searcher decides synchronously when a validation is reported, so a trial with no operation now is
    // paused (e.g. waiting at an ASHA rung): answer at once so that it gives its slot back instead of idling (a
    // second of a slot per trial and rung, with many short trials, was most of the slot's time).
    // A later promotion starts a new allocation that resumes from the checkpoint.
    return longPoll(ctx.bus, reply, {
      read: () => currentOp(id, a.id),
      ready: (op) => op.op !== null || op.closed || op.paused === true,
      wake: (e) => (e.type === 'trialOp' && e.trialId === id) || (e.type === 'allocation' && e.allocationId === a.id),
      waitMs: Math.min(req.query.wait_s, 1) * 1000,
      sliceMs: 2000,
    });
  });

  app.post(`${API_PREFIX}/trials/:id/searcher/completed_operation`, { config: { auth: 'task' }, schema: { params: IdParams, body: CompleteOperationBody, tags: ['harness'] } }, async (req) => {
    const { id } = req.params;
    await ctx.taskAuth.trial(req, id);
    await ctx.experiments.completeOperation(id, req.body.length, req.body.metric);
    ctx.rm.requestPass();
    return {};
  });

  app.post(`${API_PREFIX}/trials/:id/searcher/progress`, { config: { auth: 'task' }, schema: { params: IdParams, body: ReportProgressBody, tags: ['harness'] } }, async (req) => {
    const { id } = req.params;
    await ctx.taskAuth.trial(req, id);
    await ctx.experiments.reportProgress(id, req.body.length);
    return {};
  });

  app.get(`${API_PREFIX}/allocations/:aid/preemption`, { config: { auth: 'task' }, schema: { params: AllocParams, querystring: Wait, tags: ['harness'] } }, async (req, reply) => {
    const a = await ctx.taskAuth.allocation(req, req.params.aid);
    const preempt = await longPoll(ctx.bus, reply, {
      read: async () => {
        const s = await allocationsDb.getStopState(ctx.db, a.id);
        return !s || s.preemptRequested || s.killRequested || s.state === 'TERMINATED';
      },
      ready: (p) => p,
      wake: (e) => e.type === 'allocation' && e.allocationId === a.id,
      waitMs: req.query.wait_s * 1000,
    });
    return { preempt };
  });

  app.post(`${API_PREFIX}/allocations/:aid/rendezvous`, { config: { auth: 'task' }, schema: { params: AllocParams, body: RendezvousBody, tags: ['harness'] } }, async (req) => {
    const a = await ctx.taskAuth.allocation(req, req.params.aid);
    const { rank, address } = req.body;
    const s = await allocationsDb.getStopState(ctx.db, a.id);
    const size = s?.slots ?? 0;
    if (rank >= size) throw new HoneError('INVALID_ARGUMENT', `rank: must be < world size ${size}, got ${rank}`);
    await allocationsDb.postRendezvous(ctx.db, a.id, rank, address);
    ctx.bus.publish({ type: 'allocation', allocationId: a.id });
    return {};
  });

  app.get(`${API_PREFIX}/allocations/:aid/rendezvous`, { config: { auth: 'task' }, schema: { params: AllocParams, querystring: Wait, tags: ['harness'] } }, async (req, reply) => {
    const a = await ctx.taskAuth.allocation(req, req.params.aid);
    const s = await longPoll(ctx.bus, reply, {
      read: async () => (await allocationsDb.getRendezvous(ctx.db, a.id)) ?? { slots: 0, addresses: [] },
      ready: (r) => r.addresses.every((x) => typeof x === 'string'),
      wake: (e) => e.type === 'allocation' && e.allocationId === a.id,
      waitMs: req.query.wait_s * 1000,
      sliceMs: 1000,
    });
    if (!s.addresses.every((x) => typeof x === 'string')) {
      const have = s.addresses.filter(Boolean).length;
      throw new HoneError('CONFLICT', `rendezvous incomplete: ${have} of ${s.slots} ranks have posted their address`);
    }
    return { addresses: s.addresses as string[] };
  });
}
