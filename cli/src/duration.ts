import { HoneError } from '@hone/protocol/errors';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };

/**
 * Reads a duration such as `30d`, `12h`, `90m`, `2w` or `1y` (a number and one unit: s, m, h, d, w, y) into
 * seconds. A bare number is refused: "30" could mean seconds or days, and a token's lifetime should not be a guess.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdwy])$/i.exec(text.trim());
  if (!m) throw new HoneError('INVALID_ARGUMENT', `${what} must be a number and a unit (s, m, h, d, w or y), as in 30d or 12h; got "${text}"`);
  return Math.round(Number(m[1]) * UNIT_SECONDS[m[2]!.toLowerCase()]!);
}
