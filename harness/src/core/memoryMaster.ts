// An in-process MasterClient for tests of the harness alone (the real master is tested end to end elsewhere).
// It plays the searcher (a queue of operation lengths), stores metrics, checkpoints and files, and can preempt.
import type { AllocationInfo, CheckpointInfo, CompleteOperationBody, ExperimentConfig, HParams, MetricPoint, ReportCheckpointBody, ReportMetricsBody, ReportProgressBody, SearcherOperation } from '@hone/protocol';
import type { MasterClient } from './masterClient';

export interface MemoryMasterOptions {
  config: ExperimentConfig;
  hparams?: HParams;
  seed?: number;
  /** Operation lengths handed out in order; after the last the trial is closed (unless `pauseAfterOps`). */
  ops?: number[];
  /** After the ops run out, answer "no operation" (paused) instead of closed. */
  pauseAfterOps?: boolean;
  worldSize?: number;
}

export class MemoryMaster implements MasterClient {
  readonly trialId = 1;
  readonly experimentId = 1;
  allocationSeq = 0;
  allocationId = 'alloc-0';
  ops: number[];
  currentOp: number | null = null;
  completed: CompleteOperationBody[] = [];
  /** Lengths reported with reportProgress, in order. */
  progress: number[] = [];
  training: MetricPoint[] = [];
  validation: MetricPoint[] = [];
  checkpoints: CheckpointInfo[] = [];
  files = new Map<string, Uint8Array>();
  preempt = false;
  rendezvous = new Map<number, string>();
  /** Called on every getSearcherOperation / reportMetrics etc.; tests use it to inject events. */
  onCall: ((method: string, arg?: unknown) => void) | null = null;

  constructor(readonly opts: MemoryMasterOptions) {
    this.ops = [...(opts.ops ?? [])];
  }

  /** A fresh allocation of the same trial (as after a restart or a preemption), resuming from the latest checkpoint. */
  newAllocation(): string {
    this.allocationSeq += 1;
    this.allocationId = `alloc-${this.allocationSeq}`;
    this.preempt = false;
    return this.allocationId;
  }

  async getAllocationInfo(allocationId: string, rank = 0): Promise<AllocationInfo> {
    return {
      allocationId,
      trialId: this.trialId,
      experimentId: this.experimentId,
      requestId: 'req-1',
      hparams: this.opts.hparams ?? {},
      seed: this.opts.seed ?? 1234,
      config: this.opts.config,
      latestCheckpoint: this.checkpoints.at(-1) ?? null,
      completedLength: this.completed.at(-1)?.length ?? 0,
      rank,
      worldSize: this.opts.worldSize ?? 1,
    };
  }

  async getSearcherOperation(_trialId: number, _waitS: number): Promise<SearcherOperation> {
    this.onCall?.('getSearcherOperation');
    if (this.currentOp === null) this.currentOp = this.ops.shift() ?? null;
    if (this.currentOp !== null) return { op: { length: this.currentOp }, closed: false };
    return { op: null, closed: !this.opts.pauseAfterOps };
  }

  async completeOperation(_trialId: number, body: CompleteOperationBody): Promise<void> {
    if (body.length !== this.currentOp) throw new Error(`completed length ${body.length} but the operation was ${this.currentOp}`);
    this.completed.push(body);
    this.currentOp = null;
  }

  async reportProgress(_trialId: number, body: ReportProgressBody): Promise<void> {
    this.onCall?.('reportProgress', body);
    this.progress.push(body.length);
  }

  async reportMetrics(_trialId: number, body: ReportMetricsBody): Promise<void> {
    this.onCall?.('reportMetrics', body);
    (body.group === 'training' ? this.training : this.validation).push(...body.points.map((p) => structuredClone(p)));
  }

  async reportCheckpoint(trialId: number, body: ReportCheckpointBody): Promise<CheckpointInfo> {
    for (const rel of Object.keys(body.resources)) {
      if (!this.files.has(`${body.uuid}/${rel}`) && this.opts.config.checkpoint_storage.type === 'master') throw new Error(`checkpoint file ${rel} was not uploaded`);
    }
    const info: CheckpointInfo = {
      uuid: body.uuid,
      trialId,
      experimentId: this.experimentId,
      allocationId: this.allocationId,
      stepsCompleted: body.stepsCompleted,
      storage: { ...this.opts.config.checkpoint_storage },
      resources: body.resources,
      metadata: body.metadata ?? {},
      state: 'COMPLETED',
      reportedAt: new Date().toISOString(),
    };
    this.checkpoints.push(info);
    return info;
  }

  async uploadCheckpointFile(uuid: string, relPath: string, data: Uint8Array): Promise<void> {
    this.files.set(`${uuid}/${relPath}`, new Uint8Array(data));
  }

  async downloadCheckpointFile(uuid: string, relPath: string): Promise<Uint8Array> {
    const f = this.files.get(`${uuid}/${relPath}`);
    if (!f) throw new Error(`no checkpoint file ${uuid}/${relPath}`);
    return f;
  }

  async getPreemption(_allocationId: string, waitS: number, signal?: AbortSignal): Promise<boolean> {
    // A short long-poll: answer when preempted or after a moment.
    const until = Date.now() + Math.min(waitS * 1000, 50);
    while (!this.preempt && Date.now() < until && !signal?.aborted) await new Promise((r) => setTimeout(r, 5));
    return this.preempt;
  }

  async postRendezvous(_allocationId: string, rank: number, address: string): Promise<void> {
    this.rendezvous.set(rank, address);
  }

  async getCheckpoint(uuid: string): Promise<CheckpointInfo> {
    const c = this.checkpoints.find((x) => x.uuid === uuid);
    if (!c) throw new Error(`no checkpoint ${uuid}`);
    return c;
  }

  async getRendezvous(_allocationId: string, _waitS: number): Promise<string[] | null> {
    const n = this.opts.worldSize ?? 1;
    if (this.rendezvous.size < n) return null;
    return Array.from({ length: n }, (_, i) => this.rendezvous.get(i)!);
  }
}
