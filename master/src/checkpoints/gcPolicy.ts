// Checkpoint garbage collection policy, as Determined's: keep each trial's `save_trial_latest` newest and
// `save_trial_best` best checkpoints, and the experiment's `save_experiment_best` best; delete the rest. Checkpoints
// registered in the model registry are never deleted. Pure.

export interface GcCheckpoint {
  uuid: string;
  trialId: number;
  stepsCompleted: number;
  /** Searcher metric of the validation at the checkpoint's step, if there was one. */
  metric: number | null;
  /** Registered as a model version: kept whatever the policy says. */
  registered?: boolean;
}

export interface GcPolicy {
  save_experiment_best: number;
  save_trial_best: number;
  save_trial_latest: number;
}

export function checkpointsToDelete(cps: GcCheckpoint[], policy: GcPolicy, smallerIsBetter: boolean): string[] {
  const keep = new Set<string>();
  const better = (a: GcCheckpoint, b: GcCheckpoint) => {
    if (a.metric === null && b.metric === null) return b.stepsCompleted - a.stepsCompleted;
    if (a.metric === null) return 1;
    if (b.metric === null) return -1;
    return smallerIsBetter ? a.metric - b.metric : b.metric - a.metric;
  };
  const byTrial = new Map<number, GcCheckpoint[]>();
  for (const c of cps) {
    if (!byTrial.has(c.trialId)) byTrial.set(c.trialId, []);
    byTrial.get(c.trialId)!.push(c);
  }
  for (const list of byTrial.values()) {
    [...list].sort((a, b) => b.stepsCompleted - a.stepsCompleted).slice(0, policy.save_trial_latest).forEach((c) => keep.add(c.uuid));
    list.filter((c) => c.metric !== null).sort(better).slice(0, policy.save_trial_best).forEach((c) => keep.add(c.uuid));
  }
  cps.filter((c) => c.metric !== null).sort(better).slice(0, policy.save_experiment_best).forEach((c) => keep.add(c.uuid));
  return cps.filter((c) => !keep.has(c.uuid) && !c.registered).map((c) => c.uuid);
}
