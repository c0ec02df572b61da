// The scheduler: a pure core. See types.ts for the contract and schedule.ts for the policies.
export * from './types';
export { canEverFit, shapeRefusal, poolShape, type PoolShape } from './fit';
export { schedule, compareAllocations, priorityOf, type PassOptions } from './schedule';
export { IncrementalScheduler, scheduleIncremental, type ScheduleMemo } from './incremental';
export { queueOrder } from './queue';
export { waterFill, entitlements, type Claimant } from './fairshare';
