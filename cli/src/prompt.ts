// Asking a person for a user name or a password, and reading passwords from stdin for scripts
// (`--password-stdin`, as `docker login` has it). Prompts go to stderr, so stdout carries only the result.
// A password typed at a terminal is never echoed: the terminal is put in raw mode and nothing is written back.
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { HoneError } from '@hone/protocol/errors';

/** A terminal input stream (process.stdin on a TTY), or a stand-in with the same two members. */
export type TtyInput = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

export interface PromptStreams {
  input?: TtyInput;
  output?: Writable;
}

/** Whether a person can be asked: stdin is a terminal. */
export function canPrompt(input: TtyInput = process.stdin): boolean {
  return Boolean(input.isTTY && input.setRawMode);
}

function notATerminal(what: string): HoneError {
  return new HoneError('INVALID_ARGUMENT', `cannot ask for ${what}: stdin is not a terminal; pass it on stdin with --password-stdin`);
}

/** Asks for a secret without echoing it: Enter ends it, Backspace deletes, Ctrl-U clears, Ctrl-C or Ctrl-D on nothing cancels. */
export function askSecret(question: string, { input = process.stdin, output = process.stderr }: PromptStreams = {}): Promise<string> {
  if (!canPrompt(input)) return Promise.reject(notATerminal('a password'));
  output.write(question);
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (err: Error | null) => {
      input.removeListener('data', onData);
      input.setRawMode!(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(chars.join(''));
    };
    const onData = (d: Buffer | string) => {
      const s = typeof d === 'string' ? d : d.toString('utf8');
      // An escape sequence (an arrow key, say) is not part of a password.
      if (s.startsWith('\x1b')) return;
      for (const c of s) {
        if (c === '\r' || c === '\n') return finish(null);
        if (c === '\x03') return finish(new HoneError('INVALID_ARGUMENT', 'canceled'));
        if (c === '\x04') return finish(chars.length ? null : new HoneError('INVALID_ARGUMENT', 'canceled: no password given'));
        if (c === '\x7f' || c === '\b') chars.pop();
        else if (c === '\x15') chars = [];
        else if (c >= ' ') chars.push(c);
      }
    };
    input.setRawMode!(true);
    input.on('data', onData);
    input.resume();
  });
}

/** Asks for a line of text, echoed (a user name); `fallback` answers an empty line. */
export async function askLine(question: string, fallback?: string, { input = process.stdin, output = process.stderr }: PromptStreams = {}): Promise<string> {
  if (!input.isTTY) throw notATerminal('a user name');
  const rl = readline.createInterface({ input, output, terminal: true });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(fallback ? `${question} [${fallback}]: ` : `${question}: `, resolve));
    return answer.trim() || fallback || '';
  } finally {
    rl.close();
  }
}

/** The first `n` lines of stdin (a password per line; a trailing \r is dropped). Refuses fewer lines or an empty one. */
export async function readStdinLines(n: number, what: string[], input: Readable = process.stdin): Promise<string[]> {
  let text = '';
  input.setEncoding('utf8');
  for await (const chunk of input) text += chunk as string;
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const out = lines.slice(0, n);
  for (let i = 0; i < n; i++) {
    if (!out[i]) throw new HoneError('INVALID_ARGUMENT', `--password-stdin: expected ${what.join(' and ')} on stdin, one a line; line ${i + 1} (${what[i]}) is missing or empty`);
  }
  return out;
}

/** Asks a yes/no question on the terminal; anything but y or yes is no. */
export function askYesNo(question: string, { input = process.stdin, output = process.stderr }: PromptStreams = {}): Promise<boolean> {
  const rl = readline.createInterface({ input, output, terminal: false });
  output.write(`${question} [y/N] `);
  return new Promise((resolve) => {
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(line));
    });
    rl.once('close', () => {
      if (!answered) resolve(false);
    });
  });
}
