import { describe, expect, it } from 'vitest';
import { entitlements, waterFill } from './fairshare';

describe('water-filling', () => {
  it('splits in proportion to weight when everyone wants more', () => {
    const e = waterFill(12, [
      { id: 'a', weight: 1, demand: 100 },
      { id: 'b', weight: 2, demand: 100 },
    ]);
    expect(e.get('a')).toBeCloseTo(4);
    expect(e.get('b')).toBeCloseTo(8);
  });
  it('gives a small demand what it asks and shares the rest', () => {
    const e = waterFill(10, [
      { id: 'a', weight: 1, demand: 2 },
      { id: 'b', weight: 1, demand: 100 },
      { id: 'c', weight: 1, demand: 100 },
    ]);
    expect(e.get('a')).toBeCloseTo(2);
    expect(e.get('b')).toBeCloseTo(4);
    expect(e.get('c')).toBeCloseTo(4);
  });
  it('never exceeds demand when capacity is plentiful', () => {
    const e = waterFill(100, [
      { id: 'a', weight: 1, demand: 3 },
      { id: 'b', weight: 5, demand: 0 },
    ]);
    expect(e.get('a')).toBe(3);
    expect(e.get('b')).toBe(0);
  });
  it('rounds to whole slots within one slot, summing to the capacity', () => {
    const e = entitlements(10, [
      { id: 'a', weight: 1, demand: 100 },
      { id: 'b', weight: 1, demand: 100 },
      { id: 'c', weight: 1, demand: 100 },
    ]);
    expect([...e.values()].reduce((x, y) => x + y, 0)).toBe(10);
    expect([...e.values()].sort()).toEqual([3, 3, 4]);
    expect(e.get('a')).toBe(4);
  });
});
