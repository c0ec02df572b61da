import { describe, expect, it } from 'vitest';
import { parseSince } from './logFilters';
import { parseRanges } from './runs';

describe('runs view ranges', () => {
  it('reads name:min:max with open bounds and name:value for exact matches', () => {
    expect(parseRanges('lr:0.001:0.1, layers:2:, opt.name:adam,loss::0.5', 'hp')).toEqual([
      { name: 'lr', min: 0.001, max: 0.1 },
      { name: 'layers', min: 2 },
      { name: 'opt.name', equals: 'adam' },
      { name: 'loss', max: 0.5 },
    ]);
  });

  it('names the parameter and the bad part in its errors', () => {
    expect(() => parseRanges('lr:x:1', 'hp')).toThrow('hp: the minimum of "lr" must be a number, got "x"');
    expect(() => parseRanges('lr:1:2:3', 'metric')).toThrow('metric: write name:min:max or name:value, got "lr:1:2:3"');
    expect(() => parseRanges("a';drop:1:2", 'hp')).toThrow(/is not a hyperparameter name/);
  });
});

describe('log filter since', () => {
  const now = Date.parse('2026-01-02T03:00:00Z');
  it('takes a duration back from now or an ISO time', () => {
    expect(parseSince('10m', now).toISOString()).toBe('2026-01-02T02:50:00.000Z');
    expect(parseSince('2h', now).toISOString()).toBe('2026-01-02T01:00:00.000Z');
    expect(parseSince('2026-01-01T00:00:00Z', now).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow('since: must be an ISO time or a duration such as 10m or 2h, got "yesterday"');
  });
});
