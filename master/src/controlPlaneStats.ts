// Counters of the control plane's own work, read by /metrics (hone_scheduling_passes_total, hone_searcher_steps_*)
// and by bench:control-plane. Plain numbers in one process: no I/O, no locking.
export const controlPlaneStats = {
  /** Scheduling passes the agent resource manager ran, and the wall time they took. */
  schedulingPasses: 0,
  schedulingPassSeconds: 0,
  /** Searcher steps (stepSearcher/initSearcher calls) the experiment controller made, and their time. */
  searcherSteps: 0,
  searcherStepSeconds: 0,
};

/** Times fn into the searcher-step counters. */
export function timeSearcherStep<T>(fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    controlPlaneStats.searcherSteps += 1;
    controlPlaneStats.searcherStepSeconds += (performance.now() - t0) / 1000;
  }
}
