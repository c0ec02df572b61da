/**
 * Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013): keeps the first and last points and, per
 * bucket, the point forming the largest triangle with its neighbours, so peaks and the curve's shape survive.
 */
export function downsampleSeries(points: Array<[number, number]>, threshold: number): Array<[number, number]> {
  const n = points.length;
  if (threshold >= n || threshold < 3) return threshold < 3 && n > threshold ? points.slice(0, Math.max(0, threshold)) : points;
  const out: Array<[number, number]> = [points[0]!];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    const avgStart = Math.floor((i + 1) * every) + 1;
    const avgEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = avgStart; j < avgEnd; j++) {
      avgX += points[j]![0];
      avgY += points[j]![1];
    }
    const len = Math.max(1, avgEnd - avgStart);
    avgX /= len;
    avgY /= len;
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const [ax, ay] = points[a]!;
    let maxArea = -1;
    let next = start;
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - avgX) * (points[j]![1] - ay) - (ax - points[j]![0]) * (avgY - ay));
      if (area > maxArea) {
        maxArea = area;
        next = j;
      }
    }
    out.push(points[next]!);
    a = next;
  }
  out.push(points[n - 1]!);
  return out;
}

/** Points per curve on the experiment page's ladder: the most of 200, 100, 50, 30 or 20 such that `series`
 * curves fit in `budget` points (20 when none does). A short ladder, so experiments of similar size are
 * downsampled alike. */
const POINT_LADDER = [200, 100, 50, 30, 20];
export function pointsForBudget(budget: number, series: number): number {
  return POINT_LADDER.find((p) => p * Math.max(1, series) <= budget) ?? POINT_LADDER[POINT_LADDER.length - 1]!;
}
