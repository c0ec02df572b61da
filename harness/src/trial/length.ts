// Converts searcher and period lengths to batches. A batch is one global batch (all ranks together).
import type { Length, LengthUnit } from '@hone/protocol';

export interface LengthBasis {
  globalBatchSize: number;
  /** config.records_per_epoch, or the training set's size. */
  recordsPerEpoch: number;
}

export function toBatches(value: number, unit: LengthUnit, basis: LengthBasis): number {
  switch (unit) {
    case 'batches':
      return Math.ceil(value);
    case 'records':
      return Math.ceil(value / basis.globalBatchSize);
    case 'epochs':
      return Math.ceil((value * basis.recordsPerEpoch) / basis.globalBatchSize);
  }
}

export function lengthToBatches(length: Length | undefined, basis: LengthBasis): number | null {
  return length ? toBatches(length.value, length.unit, basis) : null;
}

/** The inverse of toBatches: how much of `unit` this many batches are (searcher progress is reported in it). */
export function fromBatches(batches: number, unit: LengthUnit, basis: LengthBasis): number {
  switch (unit) {
    case 'batches':
      return batches;
    case 'records':
      return batches * basis.globalBatchSize;
    case 'epochs':
      return (batches * basis.globalBatchSize) / basis.recordsPerEpoch;
  }
}
