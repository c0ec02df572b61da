import { describe, expect, it } from 'vitest';
import { nextFloat, nextInt, nextNormal, nextUint32, seedRng } from './rng';

describe('rng', () => {
  it('is deterministic, JSON-serialisable and resumes exactly after a round trip', () => {
    const a = seedRng(42);
    const b = seedRng(42);
    for (let i = 0; i < 10; i++) {
      nextUint32(a);
      nextUint32(b);
    }
    const c = JSON.parse(JSON.stringify(a));
    expect(nextFloat(c)).toBe(nextFloat(a));
    expect(nextFloat(b)).not.toBe(nextFloat(seedRng(43)));
  });

  it('draws uniform floats and ints in range with sane moments', () => {
    const r = seedRng(1);
    let sum = 0;
    let sq = 0;
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) {
      const u = nextFloat(r);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      sum += u;
      counts[nextInt(r, 5)]!++;
      const z = nextNormal(r);
      sq += z * z;
    }
    expect(sum / 20000).toBeCloseTo(0.5, 1);
    expect(sq / 20000).toBeCloseTo(1, 1);
    for (const c of counts) expect(c).toBeGreaterThan(3500);
  });
});
