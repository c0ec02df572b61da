import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BATCH_BYTES, readOutputBatches, splitLines } from './agent';

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

  it('reads a backlog larger than one batch without cutting a line (or a character) where a batch ends', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-output-'));
    try {
      // Lines of 1000 bytes, then one whose three-byte character straddles the end of the first batch's read.
      const filler = Array.from({ length: Math.floor(BATCH_BYTES / 1000) - 1 }, () => 'b'.repeat(999));
      const straddling = `${'c'.repeat(BATCH_BYTES - 2 - filler.length * 1000)}€ and on`;
      const lines = [...filler, straddling, ...Array.from({ length: 3000 }, (_, i) => `line ${i} ${'é'.repeat(i % 700)}`)];
      const text = lines.join('\n') + '\nunfinished';
      const file = path.join(dir, 'stdout.log');
      fs.writeFileSync(file, text);
      const size = fs.statSync(file).size;
      const fd = fs.openSync(file, 'r');
      try {
        // The rank runs: complete lines only, in batches that follow each other and end where lines end.
        const running = readOutputBatches(fd, 0, size, false);
        expect(running.length).toBeGreaterThan(1);
        expect(running[0]!.from).toBe(0);
        for (let i = 1; i < running.length; i++) expect(running[i]!.from).toBe(running[i - 1]!.to);
        for (const b of running) expect(b.to - b.from).toBeLessThanOrEqual(BATCH_BYTES);
        expect(running.flatMap((b) => b.lines)).toEqual(lines);
        const shipped = running.at(-1)!.to;
        expect(shipped).toBe(size - Buffer.byteLength('unfinished'));
        // Nothing new: nothing; the rank exited: its unfinished last line too.
        expect(readOutputBatches(fd, shipped, size, false)).toEqual([]);
        expect(readOutputBatches(fd, shipped, size, true)).toEqual([{ lines: ['unfinished'], from: shipped, to: size }]);
        // Read from the start after the exit, the whole file comes back the same way.
        expect(readOutputBatches(fd, 0, size, true).flatMap((b) => b.lines)).toEqual([...lines, 'unfinished']);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
