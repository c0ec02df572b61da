// Batches training metrics so a fast loop does not send one request per batch. At most one request is in
// flight: points that arrive meanwhile go out together when it returns, so batches grow with the load
// (and with a slow or restarting master) instead of requests queueing up.
import type { MasterClient } from './masterClient';

const MAX_POINTS_PER_REQUEST = 10_000;

export interface MetricsReporterOptions {
  flushIntervalMs?: number;
  maxPoints?: number;
}

export class MetricsReporter {
  private pending: Array<{ stepsCompleted: number; metrics: Record<string, number> }> = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private sentAny = false;
  private sending = false;
  private readonly flushIntervalMs: number;
  private readonly maxPoints: number;

  constructor(
    private readonly client: MasterClient,
    private readonly trialId: number,
    opts: MetricsReporterOptions = {},
  ) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.maxPoints = opts.maxPoints ?? 100;
  }

  addTraining(stepsCompleted: number, metrics: Record<string, number>): void {
    if (this.failure) throw this.failure;
    this.pending.push({ stepsCompleted, metrics: finite(metrics) });
    // The first point goes out at once, so that a new trial shows progress without waiting for a batch.
    const first = !this.sentAny;
    this.sentAny = true;
    if (first || this.pending.length >= this.maxPoints) {
      if (!this.sending) void this.flush().catch(() => undefined);
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush().catch(() => undefined);
      }, this.flushIntervalMs);
      this.timer.unref?.();
    }
  }

  /** Sends every buffered training point; resolves when the master has them. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const points = this.pending;
    this.pending = [];
    const prev = this.inflight;
    this.sending = true;
    const p = (async () => {
      await prev;
      for (let i = 0; i < points.length; i += MAX_POINTS_PER_REQUEST) {
        try {
          await this.client.reportMetrics(this.trialId, { group: 'training', points: points.slice(i, i + MAX_POINTS_PER_REQUEST) });
        } catch (e) {
          this.failure = e as Error;
          throw e;
        }
      }
    })();
    this.inflight = p;
    p.then(
      () => {
        if (this.inflight !== p) return;
        this.sending = false;
        // What piled up while this request was out goes now, in one batch.
        if (this.pending.length >= this.maxPoints) void this.flush().catch(() => undefined);
      },
      () => {
        if (this.inflight === p) this.sending = false;
      },
    );
    return p;
  }

  async reportValidation(stepsCompleted: number, metrics: Record<string, number>): Promise<void> {
    await this.flush();
    await this.client.reportMetrics(this.trialId, { group: 'validation', points: [{ stepsCompleted, metrics: finite(metrics) }] });
  }
}

/** JSON has no NaN or Infinity: drop them rather than fail the whole batch (the log line still shows them). */
function finite(metrics: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}
