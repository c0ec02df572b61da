import { describe, expect, it } from 'vitest';
import { localCollectives } from './localCollectives';
import { requireSameBackend } from './sameBackend';
import { localRingsClosedAfterEach } from './testRing';

const ring = localRingsClosedAfterEach();

describe('requireSameBackend', () => {
  it('lets ranks on one backend through', async () => {
    const ranks = await ring(3);
    await Promise.all(ranks.map((d) => requireSameBackend(d, 'wasm')));
    await requireSameBackend(localCollectives(), 'cpu');
  });

  it('fails on every rank, naming each rank and its backend, when they differ', async () => {
    const ranks = await ring(3);
    const backends = ['wasm', 'tensorflow', 'wasm'];
    const results = await Promise.allSettled(ranks.map((d, r) => requireSameBackend(d, backends[r]!)));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const message = ((result as PromiseRejectedResult).reason as Error).message;
      expect(message).toContain('rank 0: wasm, rank 1: tensorflow, rank 2: wasm');
      expect(message).toContain('HONE_TF_BACKEND');
    }
  });
});
