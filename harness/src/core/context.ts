// The core context: what any training loop needs from the cluster (Determined's core API).
import { randomUUID } from 'node:crypto';
import type { AllocationInfo, CheckpointInfo, ExperimentConfig, HParams } from '@hone/protocol';
import { checkpointStorage, readDirFiles, writeDirFiles, type CheckpointFiles } from './checkpointStorage';
import type { Collectives } from '../distributed/collectives';
import { localCollectives } from '../distributed/localCollectives';
import type { MasterClient } from './masterClient';
import { MetricsReporter } from './metricsReporter';
import { PreemptionWatcher } from './preemption';

/** One unit of work from the searcher: train until the trial's TOTAL length is `length`, then report. */
export interface SearcherOperationHandle {
  /** Total length in config.searcher.max_length's unit (batches, epochs or records; max_time counts as batches). */
  readonly length: number;
  /** Reports the searcher metric (from validation at this length). Only rank 0 talks to the master. */
  reportCompleted(metric: number): Promise<void>;
  /**
   * Reports how far training has got toward `length`, in the same unit (Determined's `report_progress`): the
   * trial's length and the experiment's progress move while it trains. Rank 0 only; call it now and then
   * (at validations, checkpoints), not every batch.
   */
  reportProgress(trained: number): Promise<void>;
}

export interface TrainContext {
  /** Buffered; sent every second or 100 points. Rank 0 only (a no-op elsewhere). */
  reportTrainingMetrics(stepsCompleted: number, metrics: Record<string, number>): void;
  /** Flushes training metrics first, then sends this point. Rank 0 only. */
  reportValidationMetrics(stepsCompleted: number, metrics: Record<string, number>): Promise<void>;
  /** Sends buffered training metrics now. */
  flush(): Promise<void>;
}

export interface SearcherContext {
  /**
   * The operations of this allocation, in order. Ends when the trial is closed, or when no operation came within
   * the wait (the trial is paused, e.g. at an ASHA rung; the master starts a new allocation if it is promoted).
   * Report each operation's completion before asking for the next.
   */
  operations(): AsyncIterable<SearcherOperationHandle>;
}

export interface CheckpointContext {
  /** The checkpoint this allocation should resume from, if any. */
  readonly latest: CheckpointInfo | null;
  /**
   * Writes a directory (path) or in-memory files to checkpoint storage and registers them with the master.
   * Rank 0 writes and returns the registered checkpoint; other ranks return null.
   */
  store(source: string | CheckpointFiles, stepsCompleted: number, metadata?: Record<string, unknown>): Promise<CheckpointInfo | null>;
  /** Reads a checkpoint's files (default: `latest`; a uuid or a CheckpointInfo); with `dir`, also writes them there. */
  restore(checkpoint?: CheckpointInfo | string, dir?: string): Promise<CheckpointFiles>;
}

export interface PreemptionContext {
  /** This rank's view: cheap, read between batches. */
  shouldPreempt(): boolean;
  /** Rank 0's view, on every rank, so all ranks stop at the same batch. */
  shouldPreemptAll(): Promise<boolean>;
}

export interface CoreContext {
  readonly info: AllocationInfo;
  readonly config: ExperimentConfig;
  readonly hparams: HParams;
  /** The collectives among the trial's ranks (one rank: every collective is the identity). */
  readonly distributed: Collectives;
  readonly train: TrainContext;
  readonly searcher: SearcherContext;
  readonly checkpoint: CheckpointContext;
  readonly preemption: PreemptionContext;
  log(line: string): void;
}

export interface CoreContextOptions {
  client: MasterClient;
  info: AllocationInfo;
  distributed?: Collectives;
  log?: (line: string) => void;
  /** Long-poll for a searcher operation this long before concluding the trial is paused. Default 30 s. */
  searcherWaitS?: number;
  preemptionWaitS?: number;
  metricsFlushIntervalMs?: number;
}

export interface ManagedCoreContext extends CoreContext {
  /** Marks the allocation preempted (SIGTERM). */
  preempt(reason: string): void;
  /** Flushes metrics and stops background work. */
  close(): Promise<void>;
}

export function createCoreContext(opts: CoreContextOptions): ManagedCoreContext {
  const { client, info } = opts;
  const log = opts.log ?? ((l: string) => console.log(l));
  const distributed = opts.distributed ?? localCollectives();
  const chief = distributed.rank === 0;
  const reporter = new MetricsReporter(client, info.trialId, { flushIntervalMs: opts.metricsFlushIntervalMs });
  const watcher = new PreemptionWatcher(client, info.allocationId, opts.preemptionWaitS ?? 30, log);
  watcher.start();
  const storage = () => checkpointStorage(info.config.checkpoint_storage, client);

  const train: TrainContext = {
    reportTrainingMetrics(steps, metrics) {
      if (chief) reporter.addTraining(steps, metrics);
    },
    async reportValidationMetrics(steps, metrics) {
      if (chief) await reporter.reportValidation(steps, metrics);
    },
    flush: () => (chief ? reporter.flush() : Promise.resolve()),
  };

  /**
   * Asks in short long-polls so that a preemption arriving meanwhile ends the wait at once (the master withholds
   * operations from an allocation it is preempting, and waits for it to exit).
   */
  const nextOperation = async (waitS: number): Promise<{ length: number } | null> => {
    const deadline = Date.now() + waitS * 1000;
    while (true) {
      const remaining = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      const asked = Date.now();
      const op = await client.getSearcherOperation(info.trialId, Math.min(remaining, 5));
      if (op.closed) {
        log('searcher: trial closed; no more work');
        return null;
      }
      if (op.op) return { length: op.op.length };
      if (op.paused) {
        log('searcher: no work for this trial now (the searcher pauses it); giving the slot back');
        return null;
      }
      if (watcher.shouldPreempt()) {
        log('searcher: preempted while waiting for work');
        return null;
      }
      if (Date.now() >= deadline) {
        log(`searcher: no operation within ${waitS} s; the trial is paused`);
        return null;
      }
      // A master that answers at once instead of long-polling must not be hammered.
      if (Date.now() - asked < 200) await new Promise((r) => setTimeout(r, 200));
    }
  };

  const searcher: SearcherContext = {
    async *operations() {
      const waitS = opts.searcherWaitS ?? 30;
      while (true) {
        let next: { length: number } | null = null;
        if (chief) next = await nextOperation(waitS);
        next = await distributed.broadcastJson(next);
        if (!next) return;
        let reported = false;
        const length = next.length;
        log(`searcher: train to ${length} ${info.config.searcher.max_length?.unit ?? 'batches'}`);
        yield {
          length,
          async reportCompleted(metric: number) {
            if (reported) throw new Error('searcher: operation already reported');
            reported = true;
            if (chief) await client.completeOperation(info.trialId, { length, metric });
          },
          async reportProgress(trained: number) {
            if (chief) await client.reportProgress(info.trialId, { length: Math.min(length, Math.max(0, trained)) });
          },
        };
        if (!reported) throw new Error(`searcher: the operation to length ${length} was not reported complete before asking for the next`);
      }
    },
  };

  const checkpoint: CheckpointContext = {
    latest: info.latestCheckpoint,
    async store(source, stepsCompleted, metadata = {}) {
      if (!chief) return null;
      const files = typeof source === 'string' ? await readDirFiles(source) : source;
      const uuid = randomUUID();
      const resources = await storage().write(uuid, files);
      const registered = await client.reportCheckpoint(info.trialId, { uuid, stepsCompleted, resources, metadata });
      const bytes = Object.values(resources).reduce((a, b) => a + b, 0);
      log(`checkpoint ${uuid} saved at ${stepsCompleted} steps (${Object.keys(resources).length} files, ${bytes} bytes)`);
      return registered;
    },
    async restore(which = info.latestCheckpoint ?? undefined, dir) {
      if (!which) throw new Error('checkpoint: nothing to restore (no checkpoint given and none is the latest)');
      const ckpt = typeof which !== 'string' ? which : which === info.latestCheckpoint?.uuid ? info.latestCheckpoint : await client.getCheckpoint(which);
      // The checkpoint remembers the storage it was written to; fall back to today's config.
      const cfg = ckpt.storage && typeof ckpt.storage.type === 'string' ? ckpt.storage : info.config.checkpoint_storage;
      const files = await checkpointStorage(cfg, client).read(ckpt.uuid, Object.keys(ckpt.resources));
      if (dir) await writeDirFiles(dir, files);
      log(`checkpoint ${ckpt.uuid} restored (${ckpt.stepsCompleted} steps)`);
      return files;
    },
  };

  const preemption: PreemptionContext = {
    shouldPreempt: () => watcher.shouldPreempt(),
    shouldPreemptAll: () => (distributed.size === 1 ? Promise.resolve(watcher.shouldPreempt()) : distributed.broadcastJson(watcher.shouldPreempt())),
  };

  return {
    info,
    config: info.config,
    hparams: info.hparams,
    distributed,
    train,
    searcher,
    checkpoint,
    preemption,
    log,
    preempt: (reason) => watcher.set(reason),
    async close() {
      await watcher.stop();
      await train.flush().catch((e) => log(`metrics: final flush failed: ${(e as Error).message}`));
    },
  };
}
