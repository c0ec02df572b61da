// One background long-poll loop sets a flag; the training loop reads it between batches for free.
import { sleep, type MasterClient } from './masterClient';

export class PreemptionWatcher {
  private flag = false;
  private readonly ctrl = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly client: MasterClient,
    private readonly allocationId: string,
    private readonly waitS = 30,
    private readonly log: (line: string) => void = console.log,
  ) {}

  start(): void {
    if (this.loop) return;
    this.loop = (async () => {
      while (!this.flag && !this.ctrl.signal.aborted) {
        const started = Date.now();
        try {
          if (await this.client.getPreemption(this.allocationId, this.waitS, this.ctrl.signal)) this.set('master asked this allocation to stop');
          // A master that answers at once instead of long-polling must not be hammered.
          else if (Date.now() - started < 500) await sleep(500, this.ctrl.signal);
        } catch (e) {
          if (this.ctrl.signal.aborted) return;
          // The client already retried for a while; keep watching, slowly.
          this.log(`preemption: long-poll failed (${(e as Error).message}); retrying`);
          await sleep(5000, this.ctrl.signal);
        }
      }
    })();
  }

  /** Marks the allocation as preempted (also used for SIGTERM). */
  set(reason: string): void {
    if (!this.flag) this.log(`preemption: ${reason}; stopping after the current batch`);
    this.flag = true;
  }

  shouldPreempt(): boolean {
    return this.flag;
  }

  async stop(): Promise<void> {
    this.ctrl.abort();
    await this.loop?.catch(() => undefined);
  }
}
