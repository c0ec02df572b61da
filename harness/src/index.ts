// @hone/harness: what user code imports.
//
//   import * as tf from '@tensorflow/tfjs';
//   import type { TrialContext, TrialDef } from '@hone/harness';
//   export function createTrial(ctx: TrialContext): TrialDef { ... }          // entrypoint: model.ts:createTrial
//
//   import type { CoreContext } from '@hone/harness';
//   export default async function (core: CoreContext) { ... }                 // entrypoint: train.ts
export type { TrialContext, TrialDef, TrialFactory, TensorDataset, LossFn, BuiltinLoss, MetricsFn } from './trial/types';
export type {
  CoreContext,
  CoreContextOptions,
  ManagedCoreContext,
  TrainContext,
  SearcherContext,
  SearcherOperationHandle,
  CheckpointContext,
  PreemptionContext,
} from './core/context';
export { createCoreContext } from './core/context';
export type { Collectives, ReduceOp, AllreduceBucketsOptions } from './distributed/collectives';
export { localCollectives } from './distributed/localCollectives';
export { shardRange, type Shard } from './distributed/dataParallel';
export type { MasterClient, HttpMasterClientOptions } from './core/masterClient';
export { HttpMasterClient } from './core/masterClient';
export { MemoryMaster, type MemoryMasterOptions } from './core/memoryMaster';
export { serveMemoryMaster, type FakeMasterServer } from './core/httpFake';
export { masterExchange } from './distributed/rendezvous';
export type { Exchange } from './distributed/setup';
export { connectDistributed, type ConnectOptions } from './distributed/connect';
export type { CheckpointFiles, CheckpointStorage } from './core/checkpointStorage';
export { checkpointStorage } from './core/checkpointStorage';
export { runTrial, makeTrialContext, type RunTrialOptions, type TrialOutcome } from './trial/controller';
export { encodeCheckpoint, restoreCheckpoint, decodeManifest, CHECKPOINT_FORMAT, type TrialManifest, type TrialState } from './trial/checkpointFormat';
export { epochPermutation, mulberry32 } from './trial/rng';
export { toBatches } from './trial/length';
export { defineTrial, defineCore, loadEntrypoint, type CoreEntrypoint } from './entrypoint';
export { parseEntrypoint } from '@hone/protocol/entrypoint';
export { selectBackend, type BackendChoice } from './backend';
