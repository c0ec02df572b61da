// Creates and deletes of Kubernetes objects, off the scheduling pass: the pass enqueues and returns; a few
// workers perform the requests, retrying API errors (5xx, 429, timeouts, refused connections) with capped
// exponential backoff. Requests are keyed: a second request with a pending key replaces the first (a delete
// that follows a create wins), and requests of one key never run at the same time (a delete pushed while its
// create is in flight runs after it, so it cannot overtake it and leave the object behind). Every request is idempotent at the API server (409 on create, 404 on delete
// count as done), so a retry after an unclear failure is safe.

export interface QueuedRequest {
  key: string;
  what: string;
  run: () => Promise<void>;
}

export function isRetryable(e: unknown): boolean {
  const code = (e as { code?: unknown; statusCode?: unknown }).code ?? (e as { statusCode?: unknown }).statusCode;
  if (typeof code === 'number') return code >= 500 || code === 429 || code === 408;
  // Network errors: ECONNREFUSED, ECONNRESET, ETIMEDOUT, fetch failures.
  return true;
}

/** The HTTP status of an API error, when it has one. */
export function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown }).code ?? (e as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

export class RequestQueue {
  private readonly waiting = new Map<string, QueuedRequest>();
  private running = 0;
  /** Keys of the requests in flight. */
  private readonly busy = new Set<string>();
  private stopped = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly opts: { concurrency: number; maxAttempts: number; baseDelayMs: number; maxDelayMs: number; log: (o: object, m: string) => void },
  ) {}

  push(r: QueuedRequest): void {
    if (this.stopped) return;
    this.waiting.delete(r.key);
    this.waiting.set(r.key, r);
    this.pump();
  }

  get size(): number {
    return this.waiting.size + this.running;
  }

  /** Resolves when nothing is queued or running. */
  drained(): Promise<void> {
    if (!this.size) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  stop(): void {
    this.stopped = true;
    this.waiting.clear();
  }

  private pump(): void {
    while (this.running < this.opts.concurrency) {
      const next = [...this.waiting.entries()].find(([key]) => !this.busy.has(key));
      if (!next) return;
      const [key, r] = next;
      this.waiting.delete(key);
      this.busy.add(key);
      this.running++;
      void this.attempt(r).finally(() => {
        this.running--;
        this.busy.delete(key);
        this.pump();
        if (!this.size) for (const f of this.idle.splice(0)) f();
      });
    }
  }

  private async attempt(r: QueuedRequest): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.stopped) return;
      try {
        await r.run();
        return;
      } catch (e) {
        if (!isRetryable(e) || i + 1 >= this.opts.maxAttempts) {
          this.opts.log({ request: r.what, err: (e as Error).message?.split('\n')[0] }, 'kubernetes request failed; giving up');
          return;
        }
        const delay = Math.min(this.opts.baseDelayMs * 2 ** i, this.opts.maxDelayMs);
        this.opts.log({ request: r.what, attempt: i + 1, retryInMs: delay, err: (e as Error).message?.split('\n')[0] }, 'kubernetes request failed; retrying');
        await new Promise((res) => setTimeout(res, delay));
        // A newer request with the same key replaces this one.
        if (this.waiting.has(r.key)) return;
      }
    }
  }
}
