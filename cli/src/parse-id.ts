import { HoneError } from '@hone/protocol/errors';

/** Reads a positive integer argument (an id, a count), naming the argument in the error a user sees. */
export function parseId(s: string, what = 'id'): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new HoneError('INVALID_ARGUMENT', `${what} must be a positive integer, got "${s}"`);
  return n;
}
