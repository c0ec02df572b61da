// The learning-curves request: how many points per curve to ask for, and its URL. index.html's boot script
// builds the same URL before the bundle loads (webui/test/curves.test.ts keeps the two in step).

/**
 * Total points the curves request asks for, spread over the trials (server-side LTTB per series), so a
 * 1,000-trial experiment downloads ~20 points per curve instead of 200 and the page stays under 2 MB.
 * Per-series sizes come from a short ladder so that experiments of similar size share cacheable URLs.
 */
export const POINT_BUDGET = 20_000;
export const POINT_LADDER = [200, 100, 50, 30, 20];
export function pointsPerSeries(numSeries: number): number {
  return POINT_LADDER.find((p) => p * Math.max(1, numSeries) <= POINT_BUDGET) ?? POINT_LADDER[POINT_LADDER.length - 1]!;
}

/** The curves request for the page's query string; the experiment page prefetches it with the same path. */
export function curvesPath(exp: { id: number; numTrials: number; metric: string }, query: URLSearchParams, trialRows = 0): string {
  const group = query.get('group') === 'training' ? 'training' : 'validation';
  const metric = query.get('metric') || exp.metric;
  return `/experiments/${exp.id}/metrics?group=${group}&metric=${encodeURIComponent(metric)}&max_points=${pointsPerSeries(Math.max(exp.numTrials, trialRows))}`;
}

