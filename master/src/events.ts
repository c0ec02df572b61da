// In-process event bus: controllers publish what changed; the stream endpoint and waiting long-polls listen.
import { EventEmitter } from 'node:events';
import type { ExperimentSummary, MetricPoint, TaskLog, TrialSummary } from '@hone/protocol';

export type HoneEvent =
  | { type: 'experiment'; experiment: ExperimentSummary }
  | { type: 'trial'; trial: TrialSummary }
  | { type: 'metrics'; trialId: number; experimentId: number; group: string; points: MetricPoint[] }
  | { type: 'log'; log: TaskLog }
  | { type: 'cluster' }
  /** Something about a trial's searcher operation or an allocation changed (wakes long-polls). */
  | { type: 'trialOp'; trialId: number }
  | { type: 'allocation'; allocationId: string }
  /** Tokens were revoked or users changed: holders of long-lived connections must check their token again. */
  | { type: 'credentials' };

export class EventBus {
  private readonly em = new EventEmitter();
  constructor() {
    this.em.setMaxListeners(0);
  }
  publish(e: HoneEvent): void {
    this.em.emit('event', e);
  }
  subscribe(fn: (e: HoneEvent) => void): () => void {
    this.em.on('event', fn);
    return () => this.em.off('event', fn);
  }
  /** Resolves when `pred` matches an event or after `ms`; returns whether it matched. */
  waitFor(pred: (e: HoneEvent) => boolean, ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        unsub();
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = () => done(false);
      const unsub = this.subscribe((e) => {
        if (pred(e)) done(true);
      });
      const timer = setTimeout(() => done(false), ms);
      signal?.addEventListener('abort', onAbort);
    });
  }
}
