import { describe, expect, it } from 'vitest';
import {
  MISSING,
  formatSeconds,
  formatBytes,
  formatClockDuration,
  formatDuration,
  formatHParams,
  formatKiB,
  formatLocalTime,
  formatMetric,
  formatPercent,
  formatSignificant,
  formatTableNumber,
  formatUtcTime,
  formatValue,
} from './format';

describe('numbers', () => {
  it('keeps five significant digits and drops trailing zeros', () => {
    expect(formatSignificant(0.123456)).toBe('0.12346');
    expect(formatSignificant(0.5)).toBe('0.5');
    expect(formatSignificant(0.000012345678)).toBe('0.000012346');
    expect(formatSignificant(1234567)).toBe('1234600');
    expect(formatSignificant(-2.5)).toBe('-2.5');
  });

  it('shows missing and non-finite values as the mark the caller asks for', () => {
    expect(formatSignificant(null)).toBe(MISSING);
    expect(formatSignificant(undefined, '-')).toBe('-');
    expect(formatSignificant(NaN, '-')).toBe('-');
    expect(formatSignificant(Infinity)).toBe(MISSING);
  });

  it('writes metrics outside [1e-3, 1e6) in exponent notation for the web UI', () => {
    expect(formatMetric(0.000123456)).toBe('1.235e-4');
    expect(formatMetric(2_500_000)).toBe('2.500e+6');
    expect(formatMetric(-0.0005)).toBe('-5.000e-4');
    expect(formatMetric(0)).toBe('0');
    expect(formatMetric(0.001)).toBe('0.001');
    expect(formatMetric(0.41516123)).toBe('0.41516');
    expect(formatMetric(123456)).toBe('123460');
    expect(formatMetric(null)).toBe('–');
    expect(formatMetric(NaN)).toBe('–');
  });

  it('keeps trailing zeros of fractions in CLI tables so a column lines up, and leaves a missing cell empty', () => {
    expect(formatTableNumber(0.5)).toBe('0.50000');
    expect(formatTableNumber(0.41516123)).toBe('0.41516');
    expect(formatTableNumber(0.000012345678)).toBe('0.000012346');
    expect(formatTableNumber(42)).toBe('42');
    expect(formatTableNumber(1234.5678)).toBe('1234.5678');
    expect(formatTableNumber(null)).toBe('');
    expect(formatTableNumber(undefined)).toBe('');
  });

  it('rounds fractions to whole percentages', () => {
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(0.125)).toBe('13%');
    expect(formatPercent(0.994)).toBe('99%');
    expect(formatPercent(1)).toBe('100%');
  });
});

describe('values and hyperparameters', () => {
  it('shows web UI cells: whole integers, metric-style fractions, JSON objects, a mark for none', () => {
    expect(formatValue(64)).toBe('64');
    expect(formatValue(12_000_000)).toBe('12000000');
    expect(formatValue(0.0001)).toBe('1.000e-4');
    expect(formatValue('adam')).toBe('adam');
    expect(formatValue(true)).toBe('true');
    expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(formatValue(null)).toBe('–');
    expect(formatValue(undefined)).toBe('–');
  });

  it('prints hyperparameters on one CLI line as name=value pairs', () => {
    expect(formatHParams({ learning_rate: 0.01, hidden_units: 32, optimizer: 'adam', nested: { depth: 2 }, none: null })).toBe(
      'learning_rate=0.010000 hidden_units=32 optimizer=adam nested={"depth":2} none=null',
    );
    expect(formatHParams({})).toBe('');
  });
});

describe('times', () => {
  it('prints CLI timestamps in UTC to the second, and nothing for none', () => {
    expect(formatUtcTime('2026-01-02T03:04:05.678Z')).toBe('2026-01-02 03:04:05');
    expect(formatUtcTime('2026-01-02T03:04:05+02:00')).toBe('2026-01-02 01:04:05');
    expect(formatUtcTime(null)).toBe('');
  });

  it("shows web UI timestamps in the viewer's time zone to the minute, and a mark for none or garbage", () => {
    expect(formatLocalTime(new Date(2026, 0, 2, 3, 4, 59).toISOString())).toBe('2026-01-02 03:04');
    expect(formatLocalTime(new Date(2026, 11, 31, 23, 0).toISOString())).toBe('2026-12-31 23:00');
    expect(formatLocalTime(null)).toBe('–');
    expect(formatLocalTime(undefined)).toBe('–');
    expect(formatLocalTime('not a time')).toBe('–');
  });
});

describe('durations', () => {
  const t0 = '2026-01-01T00:00:00Z';

  it('shows web UI durations in two units at most', () => {
    expect(formatDuration(t0, '2026-01-01T00:00:42Z')).toBe('42s');
    expect(formatDuration(t0, '2026-01-01T00:03:07Z')).toBe('3m 7s');
    expect(formatDuration(t0, '2026-01-01T01:02:03Z')).toBe('1h 2m');
    expect(formatDuration(t0, '2026-01-03T05:00:00Z')).toBe('2d 5h');
    expect(formatDuration(null, null)).toBe('–');
  });

  it('prints CLI durations as one word with padded minor units and hours past a day', () => {
    expect(formatClockDuration(t0, '2026-01-01T00:00:42Z')).toBe('42s');
    expect(formatClockDuration(t0, '2026-01-01T00:03:07Z')).toBe('3m07s');
    expect(formatClockDuration(t0, '2026-01-01T01:02:03Z')).toBe('1h02m');
    expect(formatClockDuration(t0, '2026-01-02T02:05:00Z')).toBe('26h05m');
  });

  it('counts a running one up to now, rounds to the second and never goes negative', () => {
    const now = Date.parse(t0) + 90_400;
    expect(formatDuration(t0, null, now)).toBe('1m 30s');
    expect(formatClockDuration(t0, null, now)).toBe('1m30s');
    expect(formatDuration(t0, '2026-01-01T00:00:00.600Z')).toBe('1s');
    expect(formatDuration(t0, '2025-12-31T23:59:00Z')).toBe('0s');
    expect(formatClockDuration(t0, '2025-12-31T23:59:00Z')).toBe('0s');
  });
});

describe('sizes', () => {
  it('shows web UI sizes in the largest binary unit under 1024', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(5 * 1024 ** 2)).toBe('5.0 MB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GB');
    expect(formatBytes(2048 * 1024 ** 4)).toBe('2048.0 TB');
  });

  it('prints CLI sizes always in KiB', () => {
    expect(formatKiB(0)).toBe('0.0 KiB');
    expect(formatKiB(2253)).toBe('2.2 KiB');
    expect(formatKiB(5 * 1024 ** 2)).toBe('5120.0 KiB');
  });
});

describe('formatSeconds', () => {
  it('writes hours, minutes and seconds, leaving out leading zero units', () => {
    expect(formatSeconds(3725)).toBe('1h 2m 5s');
    expect(formatSeconds(3600)).toBe('1h 0m 0s');
    expect(formatSeconds(65)).toBe('1m 5s');
    expect(formatSeconds(4.6)).toBe('5s');
  });
});
