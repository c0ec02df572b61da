// Metric writes and chart reads. Writes go through the metrics repository in one statement per batch and are
// published on the bus. The full-resolution series of an experiment's metric is cached, and the points this
// master stores are folded into the cached series as they arrive, so the page of a running experiment that
// viewers reload costs one query in the master's life, not one per reload (reading a 1,000-trial experiment's
// points costs about a second: its points are spread over as many heap pages as there are points, trials
// having reported side by side). A new run superseding points drops the experiment's series.
import type { MetricPoint } from '@hone/protocol';
import type { Database } from '../db';
import { getExperimentSummary, recordBestMetric } from '../db/experiments';
import { experimentMetricSeries, insertMetrics, supersedeAfter, type MetricGroup } from '../db/metrics';
import { getTrialMetricInfo, getTrialSummary } from '../db/trials';
import { notFound } from '../errors';
import type { EventBus } from '../events';

export type Series = Array<{ trialId: number; points: Array<[number, number]> }>;

const SERIES_CACHE_MAX = 64;
const TRIAL_INFO_CACHE_MAX = 10_000;

export class MetricStore {
  /** Experiment id / group / metric → series. */
  private readonly series = new Map<string, Series>();
  /** Reads in flight, by experiment: marked stale when points of it are stored or its series dropped meanwhile
   * (the answer may miss them, so it is not kept). */
  private readonly reading = new Map<number, Set<{ stale: boolean }>>();
  /** Searcher metric and experiment per trial: they never change, so one lookup per trial. */
  private readonly trialInfo = new Map<number, { experimentId: number; metric: string; smallerIsBetter: boolean }>();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
  ) {
    bus.subscribe((e) => {
      if (e.type === 'metrics') this.fold(e.experimentId, e.trialId, e.group, e.points);
    });
  }

  private changed(experimentId: number): void {
    for (const r of this.reading.get(experimentId) ?? []) r.stale = true;
  }

  private invalidate(experimentId: number): void {
    this.changed(experimentId);
    for (const k of this.series.keys()) if (k.startsWith(`${experimentId}/`)) this.series.delete(k);
  }

  /** Folds stored points into the experiment's cached series of their group (a later value at a step replaces
   * the earlier one, as the database merges them). */
  private fold(experimentId: number, trialId: number, group: string, points: MetricPoint[]): void {
    this.changed(experimentId);
    const prefix = `${experimentId}/${group}/`;
    for (const [key, series] of this.series) {
      if (!key.startsWith(prefix)) continue;
      const metric = key.slice(prefix.length);
      let entry: Series[number] | undefined;
      for (const p of points) {
        const v = p.metrics[metric];
        if (typeof v !== 'number') continue;
        entry ??= seriesOf(series, trialId);
        putPoint(entry.points, p.stepsCompleted, v);
      }
    }
  }

  /** Stores a batch of a trial's points, updates its latest and best values, and publishes them. */
  async store(trialId: number, group: MetricGroup, points: MetricPoint[]): Promise<number> {
    if (!points.length) return 0;
    let info = this.trialInfo.get(trialId);
    if (!info) {
      const found = await getTrialMetricInfo(this.db, trialId);
      if (!found) throw notFound('trial', trialId);
      info = found;
      if (this.trialInfo.size > TRIAL_INFO_CACHE_MAX) this.trialInfo.clear();
      this.trialInfo.set(trialId, info);
    }
    await insertMetrics(this.db, trialId, group, points, info);
    this.bus.publish({ type: 'metrics', trialId, experimentId: info.experimentId, group, points });
    if (group === 'validation') {
      // The experiment's best moves as validations arrive, not only when an operation completes.
      const metric = info.metric;
      const values = points.map((p) => p.metrics[metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      await recordBestMetric(this.db, info.experimentId, values);
      const trial = await getTrialSummary(this.db, trialId);
      if (trial) this.bus.publish({ type: 'trial', trial });
      const exp = values.length ? await getExperimentSummary(this.db, info.experimentId) : null;
      if (exp) this.bus.publish({ type: 'experiment', experiment: exp });
    }
    return points.length;
  }

  /** A run of the trial starts from `steps`: points after it from earlier runs no longer count (see supersedeAfter). */
  async startRunAt(trialId: number, experimentId: number, steps: number): Promise<void> {
    if ((await supersedeAfter(this.db, trialId, steps)) > 0) this.invalidate(experimentId);
  }

  async experimentSeries(experimentId: number, group: MetricGroup, metric: string): Promise<Series> {
    const key = `${experimentId}/${group}/${metric}`;
    const hit = this.series.get(key);
    if (hit) return hit;
    const read = { stale: false };
    let reads = this.reading.get(experimentId);
    if (!reads) this.reading.set(experimentId, (reads = new Set()));
    reads.add(read);
    let series: Series;
    try {
      series = await experimentMetricSeries(this.db, experimentId, group, metric);
    } finally {
      reads.delete(read);
      if (!reads.size) this.reading.delete(experimentId);
    }
    // Points stored while the query ran may be missing from its answer: keep it only if none were.
    if (read.stale) return series;
    if (this.series.size >= SERIES_CACHE_MAX) this.series.delete(this.series.keys().next().value!);
    this.series.set(key, series);
    return series;
  }
}

/** The first index of a list of `n` items sorted by key at which `before(i)` (its key is below the one sought) is false. */
function lowerBound(n: number, before: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The trial's entry of a series sorted by trial id (added in its place when missing). */
function seriesOf(series: Series, trialId: number): Series[number] {
  const lo = lowerBound(series.length, (i) => series[i].trialId < trialId);
  if (series[lo]?.trialId === trialId) return series[lo];
  const entry = { trialId, points: [] };
  series.splice(lo, 0, entry);
  return entry;
}

/** Puts a point into points sorted by step (replacing the value at that step). Points mostly arrive in order. */
function putPoint(points: Array<[number, number]>, step: number, value: number): void {
  const last = points[points.length - 1];
  if (!last || last[0] < step) {
    points.push([step, value]);
    return;
  }
  const lo = lowerBound(points.length, (i) => points[i][0] < step);
  if (points[lo]?.[0] === step) points[lo] = [step, value];
  else points.splice(lo, 0, [step, value]);
}
