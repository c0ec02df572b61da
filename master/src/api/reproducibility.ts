// The reproducibility record of a trial run: taken by the master when rank 0 of an allocation starts (model
// directory digest, config, seed, hyperparameters, placement, devices); the harness adds its versions and backend
// (POST /trials/:id/reproducibility). Each run replaces the record, so it says what the latest run ran with.
import { stringify as toYaml } from 'yaml';
import type { ExperimentConfig, HParams, ReproducibilityRecord } from '@hone/protocol';
import type { MasterContext } from '../context';
import { listAgents } from '../db/agents';
import { getPlacement } from '../db/allocations';
import { getContextDigest } from '../db/experiments';
import { recordReproducibility } from '../db/trials';

/** Model directory digests by database and experiment: an experiment's model directory never changes once submitted. */
const digestsByDb = new WeakMap<object, Map<number, string>>();
async function contextDigestOf(ctx: MasterContext, experimentId: number): Promise<string | null> {
  let digests = digestsByDb.get(ctx.db);
  if (!digests) digestsByDb.set(ctx.db, (digests = new Map()));
  const known = digests.get(experimentId);
  if (known !== undefined) return known;
  const d = await getContextDigest(ctx.db, experimentId);
  if (d !== null) {
    digests.set(experimentId, d);
    if (digests.size > 1000) digests.delete(digests.keys().next().value!);
  }
  return d;
}

export async function recordRunReproducibility(
  ctx: MasterContext,
  allocationId: string,
  trialId: number,
  experimentId: number,
  run: { seed: number; hparams: HParams; config: ExperimentConfig },
): Promise<void> {
  const [contextDigest, placement] = await Promise.all([contextDigestOf(ctx, experimentId), getPlacement(ctx.db, allocationId)]);
  // The devices as their agents describe them: connected agents from memory, the database only for others.
  const connected = (id: string) => ctx.agents.agents.get(id);
  const stored = placement.some((p) => !connected(p.agentId)) ? await listAgents(ctx.db) : [];
  const devices: ReproducibilityRecord['devices'] = [];
  for (const p of placement) {
    const agent = connected(p.agentId) ?? stored.find((a) => a.id === p.agentId);
    for (const d of p.devices) {
      const dev = agent?.devices.find((x) => x.id === d);
      devices.push({ agentId: p.agentId, id: d, type: dev?.type ?? 'cpu', brand: dev?.brand ?? 'unknown' });
    }
  }
  await recordReproducibility(ctx.db, trialId, {
    contextDigest,
    configYaml: toYaml(run.config),
    seed: run.seed,
    hparams: run.hparams,
    placement: placement.map((p) => ({ agentId: p.agentId, devices: p.devices })),
    devices,
    harnessVersion: null,
    tfjsVersion: null,
    backend: null,
    nodeVersion: null,
    allocationId,
    recordedAt: new Date().toISOString(),
  });
}
