import { describe, expect, it } from 'vitest';
import { splitLines } from './agent';

describe('reading rank output files into log lines', () => {
  it('takes complete lines only, and says how many bytes they used (where the next read starts)', () => {
    const buf = Buffer.from('one\ntwo\nthr');
    expect(splitLines(buf, false)).toEqual({ lines: ['one', 'two'], used: 8 });
    // The rank exited: the unfinished last line is shipped too.
    expect(splitLines(buf, true)).toEqual({ lines: ['one', 'two', 'thr'], used: 11 });
    expect(splitLines(Buffer.from('\n\n'), false)).toEqual({ lines: ['', ''], used: 2 });
  });

  it('counts bytes, not characters (offsets into the file stay exact with multi-byte text)', () => {
    const buf = Buffer.from('é€\nx');
    expect(splitLines(buf, false)).toEqual({ lines: ['é€'], used: Buffer.byteLength('é€\n') });
  });

  it('ships a very long line without an end yet rather than waiting forever', () => {
    const long = 'x'.repeat(70 * 1024);
    const { lines, used } = splitLines(Buffer.from(long), false);
    expect(lines).toEqual([long]);
    expect(used).toBe(long.length);
  });
});
