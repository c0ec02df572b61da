import { describe, expect, it } from 'vitest';
import { useColor } from './output';

describe('colour', () => {
  it('only on a terminal, and never with NO_COLOR', () => {
    expect(useColor({}, true)).toBe(true);
    expect(useColor({}, false)).toBe(false);
    expect(useColor({}, undefined)).toBe(false);
    expect(useColor({ NO_COLOR: '1' }, true)).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(useColor({ NO_COLOR: '' }, true)).toBe(true);
  });
});
