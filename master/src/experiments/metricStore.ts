// Metric writes and chart reads. Writes go through the metrics repository in one statement per batch and are
// published on the bus; the full-resolution series of an experiment's metric is cached until a new point of
// that experiment arrives, so a page of charts that several viewers reload costs one query.
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
  /** Searcher metric and experiment per trial: they never change, so one lookup per trial. */
  private readonly trialInfo = new Map<number, { experimentId: number; metric: string; smallerIsBetter: boolean }>();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
  ) {
    bus.subscribe((e) => {
      if (e.type === 'metrics') this.invalidate(e.experimentId);
    });
  }

  private invalidate(experimentId: number): void {
    for (const k of this.series.keys()) if (k.startsWith(`${experimentId}/`)) this.series.delete(k);
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
    const series = await experimentMetricSeries(this.db, experimentId, group, metric);
    if (this.series.size >= SERIES_CACHE_MAX) this.series.delete(this.series.keys().next().value!);
    this.series.set(key, series);
    return series;
  }
}
