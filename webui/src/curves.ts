// The learning-curves request and its URL. index.html's boot script builds the same URL before the bundle loads
// (webui/test/curves.test.ts keeps the two in step).

/**
 * Total points the curves request asks for. The master spreads them over the curves (server-side LTTB per
 * series, on a short ladder of 200, 100, 50, 30 or 20 points per curve), so a 1,000-trial experiment downloads
 * ~20 points per curve instead of 200 and the page stays under 2 MB. The URL needs nothing from the experiment
 * itself, so the boot script sends it at once, beside the experiment's own request.
 */
export const POINT_BUDGET = 20_000;

/** The curves request for the page's query string (the searcher's metric when it names none). */
export function curvesPath(exp: { id: number }, query: URLSearchParams): string {
  const group = query.get('group') === 'training' ? 'training' : 'validation';
  const metric = query.get('metric');
  return `/experiments/${exp.id}/metrics?group=${group}${metric ? `&metric=${encodeURIComponent(metric)}` : ''}&point_budget=${POINT_BUDGET}`;
}
