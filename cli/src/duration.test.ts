import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration';

describe('parseDuration', () => {
  it('reads a number and a unit into seconds', () => {
    expect(parseDuration('30d')).toBe(30 * 86400);
    expect(parseDuration('12h')).toBe(12 * 3600);
    expect(parseDuration('90m')).toBe(5400);
    expect(parseDuration('2w')).toBe(14 * 86400);
    expect(parseDuration('1y')).toBe(365 * 86400);
    expect(parseDuration('1.5h')).toBe(5400);
  });

  it('refuses a bare number or an unknown unit, naming the option', () => {
    expect(() => parseDuration('30', '--expires-in')).toThrow('--expires-in must be a number and a unit (s, m, h, d, w or y), as in 30d or 12h; got "30"');
    expect(() => parseDuration('3 months', '--expires-in')).toThrow('got "3 months"');
  });
});
