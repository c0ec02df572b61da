import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { askSecret, readStdinLines, type TtyInput } from './prompt';

/** A terminal stand-in: what the CLI writes to it, and whether it is in raw mode. */
function terminal() {
  const input = new PassThrough() as PassThrough & TtyInput;
  const modes: boolean[] = [];
  input.isTTY = true;
  input.setRawMode = (raw: boolean) => modes.push(raw);
  const output = new PassThrough();
  let written = '';
  output.on('data', (d) => (written += d));
  return { input, output, modes, written: () => written };
}

describe('askSecret', () => {
  it('reads a password typed at a terminal without echoing it, with backspace and Ctrl-U', async () => {
    const t = terminal();
    const answer = askSecret('Password: ', t);
    t.input.write('wrong');
    t.input.write('\x15');
    t.input.write('s3cretX\x7f');
    t.input.write('\x1b[A'); // an arrow key
    t.input.write('!\r');
    expect(await answer).toBe('s3cret!');
    expect(t.written()).toBe('Password: \n');
    // Raw mode on while typing, off after.
    expect(t.modes).toEqual([true, false]);
  });

  it('is canceled by Ctrl-C and refuses a stdin that is not a terminal', async () => {
    const t = terminal();
    const answer = askSecret('Password: ', t);
    t.input.write('abc\x03');
    await expect(answer).rejects.toThrow('canceled');
    expect(t.modes).toEqual([true, false]);
    await expect(askSecret('Password: ', { input: Readable.from(['x\n']), output: new PassThrough() })).rejects.toThrow('stdin is not a terminal; pass it on stdin with --password-stdin');
  });
});

describe('readStdinLines', () => {
  it('reads one password a line, with or without a final newline or \\r', async () => {
    expect(await readStdinLines(1, ['the password'], Readable.from(['hunter22\n']))).toEqual(['hunter22']);
    expect(await readStdinLines(2, ['old', 'new'], Readable.from(['old-pass\r\n', 'new-pass']))).toEqual(['old-pass', 'new-pass']);
  });

  it('refuses a missing or empty line, naming it', async () => {
    await expect(readStdinLines(2, ['the current password', 'the new password'], Readable.from(['only-one\n']))).rejects.toThrow('line 2 (the new password) is missing or empty');
    await expect(readStdinLines(1, ['the password'], Readable.from(['']))).rejects.toThrow('line 1 (the password) is missing or empty');
  });
});
