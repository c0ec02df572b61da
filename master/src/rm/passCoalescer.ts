// Scheduling passes on request, coalesced: one pass at a time, at least `minIntervalMs` apart; requests that come
// while one runs make one more pass after it. Both resource managers run their passes through one of these.
export class PassCoalescer {
  private pending: Promise<void> | null = null;
  private again = false;
  private lastPass = 0;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (e: Error) => void,
    private readonly minIntervalMs = 50,
  ) {}

  /** Asks for a pass soon (ignored once stopped). */
  request(): void {
    if (this.stopped) return;
    if (this.pending) {
      this.again = true;
      return;
    }
    const wait = Math.max(0, this.lastPass + this.minIntervalMs - Date.now());
    this.pending = new Promise<void>((r) => setTimeout(r, wait))
      .then(() => this.pass())
      .catch((e) => this.onError(e as Error))
      .finally(() => {
        this.lastPass = Date.now();
        this.pending = null;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  /** Takes no more requests and waits for the pass in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.pending?.catch(() => undefined);
  }
}
