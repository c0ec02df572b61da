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

export async function recordRunReproducibility(
  ctx: MasterContext,
  allocationId: string,
  trialId: number,
  experimentId: number,
  run: { seed: number; hparams: HParams; config: ExperimentConfig },
): Promise<void> {
  const [contextDigest, placement, agents] = await Promise.all([getContextDigest(ctx.db, experimentId), getPlacement(ctx.db, allocationId), listAgents(ctx.db)]);
  const devices: ReproducibilityRecord['devices'] = [];
  for (const p of placement) {
    const agent = agents.find((a) => a.id === p.agentId);
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
