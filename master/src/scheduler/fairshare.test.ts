import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { entitlements, KeptEntitlements, waterFill, type KeptClaimant } from './fairshare';

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

describe('KeptEntitlements', () => {
  it('gives the same entitlements as entitlements() over random sequences of demand changes', () => {
    const claimant = fc.record({
      weight: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(0.5, 1.5, 0.1, 0)),
      demand: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(0)),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(claimant, { minLength: 1, maxLength: 12 }),
        fc.array(fc.record({ pick: fc.nat(100), demand: fc.integer({ min: 0, max: 40 }), op: fc.constantFrom('set', 'set', 'add', 'remove') }), { maxLength: 10 }),
        (capacity, initial, changes) => {
          const kept = new KeptEntitlements();
          let next = 0;
          const make = (c: { weight: number; demand: number }): KeptClaimant => ({ id: `c${String(next++).padStart(2, '0')}`, ...c, ent: 0, key: 0, real: 0, frac: 0 });
          for (const c of initial) kept.add(make(c));
          const check = () => {
            kept.update(capacity);
            const want = entitlements(capacity, kept.claimants.map(({ id, weight, demand }) => ({ id, weight, demand })));
            for (const c of kept.claimants) expect(c.ent).toBe(want.get(c.id));
          };
          check();
          for (const ch of changes) {
            const cs = kept.claimants;
            if (ch.op === 'add') kept.add(make({ weight: 1 + (ch.pick % 3), demand: ch.demand }));
            else if (ch.op === 'remove' && cs.length > 1) kept.remove(cs[ch.pick % cs.length]!);
            else cs[ch.pick % cs.length]!.demand = ch.demand;
            check();
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });
});
