import { describe, expect, it } from 'vitest';
import { canEverFit } from './fit';
import { makeAgents } from './testing';

describe('canEverFit', () => {
  const eights = makeAgents(4, 8);
  it('accepts gangs up to one agent and multiples of whole agents', () => {
    expect(canEverFit(eights, 'gpu', 1)).toEqual({ fits: true });
    expect(canEverFit(eights, 'gpu', 8)).toEqual({ fits: true });
    expect(canEverFit(eights, 'gpu', 16)).toEqual({ fits: true });
    expect(canEverFit(eights, 'gpu', 32)).toEqual({ fits: true });
    expect(canEverFit(eights, 'gpu', 0)).toEqual({ fits: true });
  });
  it('refuses a gang that is not a multiple of the agent size', () => {
    const r = canEverFit(eights, 'gpu', 12);
    expect(r.fits).toBe(false);
    if (!r.fits) expect(r.reason).toContain('not a multiple of 8');
    expect(canEverFit(makeAgents(3, 2), 'gpu', 3).fits).toBe(false);
  });
  it('refuses a gang that needs more whole agents than the pool has', () => {
    const r = canEverFit(eights, 'gpu', 40);
    expect(r).toEqual({ fits: false, reason: expect.stringContaining('needs 5 whole agents') });
  });
  it('accepts any gang in a pool without agents (agents may join, an autoscaler may grow it) and only counts agents of the pool', () => {
    expect(canEverFit(eights, 'cpu', 1)).toEqual({ fits: true });
    expect(canEverFit([], 'gpu', 64)).toEqual({ fits: true });
    expect(canEverFit([], 'gpu', -1).fits).toBe(false);
    const mixed = [...makeAgents(1, 8, 'big', 'b'), ...makeAgents(4, 2, 'small', 's')];
    expect(canEverFit(mixed, 'small', 4).fits).toBe(true);
    expect(canEverFit(mixed, 'small', 8).fits).toBe(true);
    expect(canEverFit(mixed, 'small', 10).fits).toBe(false);
  });
  it('counts disabled agents, which may come back', () => {
    const agents = makeAgents(2, 8).map((a) => ({ ...a, enabled: false }));
    expect(canEverFit(agents, 'gpu', 16).fits).toBe(true);
  });
  it('refuses nonsense sizes', () => {
    expect(canEverFit(eights, 'gpu', -1).fits).toBe(false);
    expect(canEverFit(eights, 'gpu', 1.5).fits).toBe(false);
  });
});
