// Unpacking a model archive (the gzipped tar the master serves at /experiments/:id/context) into a task directory.
// The archive comes from a user, and the agent unpacks it with the agent's privileges, so nothing in it may take
// effect beyond plain files and directories inside the target:
//  - paths that are absolute or contain `..` are refused, and so are links whose target is absolute or contains
//    `..` (a relative target without `..` stays inside, however links chain);
//  - devices, FIFOs and other special entries are refused;
//  - setuid, setgid and sticky bits are dropped, group/other write too; ownership is the agent's choice (the user
//    trials run as), never the archive's;
//  - the unpacked size and the number of entries are bounded (a few MB of archive must not write GiBs or a
//    million files), and so is the decompressed stream itself (what an ignored entry or trailing data expands to).
// Any refusal stops the extraction with an `ArchiveRefusedError` naming the entry and the rule.
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';

export interface ExtractLimits {
  /** Most bytes of file content the archive may unpack to. */
  maxBytes: number;
  /** Most entries (files, directories, links) it may hold. */
  maxFiles: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = { maxBytes: 1024 * 1024 * 1024, maxFiles: 20_000 };

export interface ExtractOptions extends ExtractLimits {
  /** Owner of everything unpacked (the user ranks run as); default: the agent's own user. */
  owner?: { uid: number; gid: number };
}

export class ArchiveRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveRefusedError';
  }
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Bytes of tar framing (headers, padding, pax records) allowed per entry on top of the content. */
const FRAMING_PER_ENTRY = 4096;

function escapes(p: string): boolean {
  const n = p.replace(/\\/g, '/');
  return path.posix.isAbsolute(n) || /^[A-Za-z]:/.test(n) || n.split('/').includes('..');
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1048576).toFixed(bytes % 1048576 ? 1 : 0)} MiB` : `${bytes} bytes`;
}

/** Reads the first two bytes of `source` to tell gzip from plain tar, and gives back a stream of all of it. */
async function sniff(source: AsyncIterable<Buffer | Uint8Array>): Promise<{ gzip: boolean; stream: Readable }> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < 2) {
    const n = await it.next();
    if (n.done) {
      done = true;
      break;
    }
    const b = Buffer.from(n.value);
    head.push(b);
    have += b.length;
  }
  const first = Buffer.concat(head);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (done) return;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield Buffer.from(n.value);
    }
  }
  return { gzip: first[0] === 0x1f && first[1] === 0x8b, stream: Readable.from(all(), { objectMode: false }) };
}

/**
 * Unpacks the tar (gzipped or not) read from `source` into `dir`, which must exist. Resolves to what was
 * unpacked; rejects with `ArchiveRefusedError` when a rule or limit is broken (what was unpacked so far stays:
 * the caller removes the directory).
 */
export async function extractModelArchive(source: AsyncIterable<Buffer | Uint8Array>, dir: string, opts: ExtractOptions): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  let refusal: ArchiveRefusedError | null = null;
  const refuse = (message: string): false => {
    refusal ??= new ArchiveRefusedError(message);
    unpack.abort(refusal);
    return false;
  };
  const unpack = new tar.Unpack({
    cwd: dir,
    strict: true,
    ...(opts.owner ? { uid: opts.owner.uid, gid: opts.owner.gid } : { preserveOwner: false }),
    filter: (p, entry) => {
      if (refusal) return false;
      const e = entry as tar.ReadEntry;
      const what = JSON.stringify(p);
      if (!ALLOWED_TYPES.has(e.type)) return refuse(`model archive entry ${what} is a ${e.type}: only files, directories and links may be in a model directory`);
      if (escapes(p)) return refuse(`model archive entry ${what} is outside the model directory (absolute, or with ..)`);
      if ((e.type === 'SymbolicLink' || e.type === 'Link') && escapes(String(e.linkpath ?? ''))) {
        return refuse(`model archive entry ${what} links to ${JSON.stringify(e.linkpath)}, outside the model directory (links must be relative, without ..)`);
      }
      files += 1;
      if (files > opts.maxFiles) return refuse(`the model archive holds more than ${opts.maxFiles} entries (the agent's limit): list data and outputs in .honeignore`);
      if (FILE_TYPES.has(e.type)) {
        bytes += e.size ?? 0;
        if (bytes > opts.maxBytes) return refuse(`the model archive unpacks to more than ${mib(opts.maxBytes)} (the agent's limit), at ${what}: list data and outputs in .honeignore`);
      }
      // No setuid/setgid/sticky bits, and nothing writable by group or others.
      if (typeof e.mode === 'number') e.mode &= 0o755;
      return true;
    },
  });

  const limit = opts.maxBytes + (opts.maxFiles + 16) * FRAMING_PER_ENTRY + 1024 * 1024;
  let seen = 0;
  const bound = async function* (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of src) {
      seen += chunk.length;
      if (seen > limit) {
        refusal ??= new ArchiveRefusedError(`the model archive expands to more than ${mib(limit)} of tar data (the agent's limit)`);
        throw refusal;
      }
      yield chunk;
    }
  };
  // tar's Unpack is not a Node stream: write to it by hand (with back-pressure), and wait for it to close.
  const closed = new Promise<void>((resolve, reject) => {
    unpack.on('close', () => resolve());
    unpack.on('error', reject);
  });
  closed.catch(() => undefined);
  const into = async (src: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of src) {
      if (refusal) throw refusal;
      if (!unpack.write(chunk)) await Promise.race([new Promise<void>((r) => unpack.once('drain', () => r())), closed]);
    }
    unpack.end();
    await closed;
  };
  const { gzip, stream } = await sniff(source);
  try {
    if (gzip) await pipeline(stream, zlib.createGunzip(), bound, into);
    else await pipeline(stream, bound, into);
  } catch (e) {
    if (refusal) throw refusal;
    if (e instanceof ArchiveRefusedError) throw e;
    const err = e as Error & { code?: string; tarCode?: string };
    throw new ArchiveRefusedError(`the model archive could not be unpacked: ${err.message}`);
  }
  if (refusal) throw refusal;
  return { files, bytes };
}
