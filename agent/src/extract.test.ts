// Unpacking a user's model archive: nothing in it takes effect outside plain files and directories under the
// task directory, and its expansion is bounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import * as tar from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveRefusedError, extractModelArchive, type ExtractOptions } from './extract';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-extract-'));
  dirs.push(d);
  return d;
}

/** One tar entry, written by hand so that it can say anything (`..`, absolute paths, devices, setuid). */
interface Entry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  body?: Buffer | string;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  linkpath?: string;
}
function tarOf(entries: Entry[], opts: { gzip?: boolean } = { gzip: true }): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === 'string' ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
    const type = e.type ?? 'File';
    const size = type === 'File' ? (e.size ?? body.length) : 0;
    const header = new tar.Header({
      path: e.path,
      type,
      size,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date(0),
      ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (size) {
      const padded = Buffer.alloc(Math.ceil(size / 512) * 512);
      body.copy(padded);
      blocks.push(padded);
    }
  }
  blocks.push(Buffer.alloc(1024));
  const raw = Buffer.concat(blocks);
  return opts.gzip === false ? raw : zlib.gzipSync(raw);
}

const LIMITS: ExtractOptions = { maxBytes: 1024 * 1024, maxFiles: 100 };
const extract = (archive: Buffer, dir: string, opts: Partial<ExtractOptions> = {}) => extractModelArchive(Readable.from([archive]), dir, { ...LIMITS, ...opts });

describe('model archive extraction', () => {
  it('unpacks files and directories, gzipped or not', async () => {
    for (const gzip of [true, false]) {
      const dir = tmp();
      const r = await extract(tarOf([{ path: 'src/', type: 'Directory' }, { path: 'src/model.ts', body: 'export {}\n' }, { path: 'README', body: 'hi' }], { gzip }), dir);
      expect(r).toEqual({ files: 3, bytes: 12 });
      expect(fs.readFileSync(path.join(dir, 'src/model.ts'), 'utf8')).toBe('export {}\n');
    }
  });

  it('keeps relative links that stay inside', async () => {
    const dir = tmp();
    await extract(tarOf([{ path: 'data/a.txt', body: 'A' }, { path: 'a-link', type: 'SymbolicLink', linkpath: 'data/a.txt' }, { path: 'a-hard', type: 'Link', linkpath: 'data/a.txt' }]), dir);
    expect(fs.readFileSync(path.join(dir, 'a-link'), 'utf8')).toBe('A');
    expect(fs.readFileSync(path.join(dir, 'a-hard'), 'utf8')).toBe('A');
  });

  it.each<[string, Entry[], RegExp]>([
    ['a path with ..', [{ path: '../escaped', body: 'x' }], /"\.\.\/escaped" is outside the model directory/],
    ['a nested path with ..', [{ path: 'a/../../escaped', body: 'x' }], /outside the model directory/],
    ['an absolute path', [{ path: '/tmp/hone-escaped', body: 'x' }], /"\/tmp\/hone-escaped" is outside the model directory/],
    ['a symlink to an absolute path', [{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }], /links to "\/etc", outside the model directory/],
    ['a symlink climbing out', [{ path: 'up', type: 'SymbolicLink', linkpath: '../..' }], /links to "\.\.\/\.\.", outside/],
    // Textually this stays inside (a/b/.. is a), but a/b is itself a link to .., so it would not.
    [
      'a symlink chain out of the directory',
      [{ path: 'a/', type: 'Directory' }, { path: 'a/b', type: 'SymbolicLink', linkpath: '..' }, { path: 'c', type: 'SymbolicLink', linkpath: 'a/b/..' }],
      /"a\/b" links to "\.\.", outside/,
    ],
    ['a hard link to a file outside', [{ path: 'shadow', type: 'Link', linkpath: '/etc/shadow' }], /links to "\/etc\/shadow"/],
    ['a hard link with ..', [{ path: 'h', type: 'Link', linkpath: '../x' }], /links to "\.\.\/x"/],
    ['a character device', [{ path: 'null', type: 'CharacterDevice' }], /"null" is a CharacterDevice: only files, directories and links/],
    ['a FIFO', [{ path: 'pipe', type: 'FIFO' }], /"pipe" is a FIFO/],
  ])('refuses %s, and nothing lands outside', async (_what, entries, message) => {
    const parent = tmp();
    const dir = path.join(parent, 'task');
    fs.mkdirSync(dir);
    await expect(extract(tarOf(entries), dir)).rejects.toThrow(message);
    expect(fs.readdirSync(parent)).toEqual(['task']);
    expect(fs.existsSync('/tmp/hone-escaped')).toBe(false);
    for (const f of fs.readdirSync(dir)) {
      const st = fs.lstatSync(path.join(dir, f));
      if (st.isSymbolicLink()) expect(path.resolve(dir, fs.readlinkSync(path.join(dir, f))).startsWith(dir)).toBe(true);
    }
  });

  it('drops setuid, setgid and sticky bits and group/other write', async () => {
    const dir = tmp();
    await extract(tarOf([{ path: 'tool', body: '#!/bin/sh\n', mode: 0o6777 }, { path: 'shared/', type: 'Directory', mode: 0o1777 }]), dir);
    expect(fs.statSync(path.join(dir, 'tool')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(dir, 'shared')).mode & 0o7777).toBe(0o755);
  });

  it.runIf(process.getuid?.() === 0)('never keeps the archive\'s ownership: files belong to the agent, or to the user given', async () => {
    const archive = tarOf([{ path: 'root-owned', body: 'x', uid: 0, gid: 0 }, { path: 'other', body: 'y', uid: 4242, gid: 4242 }, { path: 'd/', type: 'Directory', uid: 4242, gid: 4242 }]);
    const mine = tmp();
    await extract(archive, mine);
    for (const f of ['root-owned', 'other', 'd']) expect(fs.statSync(path.join(mine, f)).uid).toBe(0);
    const theirs = tmp();
    await extract(archive, theirs, { owner: { uid: 65534, gid: 65534 } });
    for (const f of ['root-owned', 'other', 'd']) {
      const st = fs.statSync(path.join(theirs, f));
      expect([st.uid, st.gid]).toEqual([65534, 65534]);
    }
  });

  it('stops past the byte limit with a clear error, without writing the rest', async () => {
    const dir = tmp();
    // A 10 MiB file of zeros compresses to ~10 KB.
    const archive = tarOf([{ path: 'small', body: 'x' }, { path: 'big', body: Buffer.alloc(10 * 1024 * 1024) }]);
    expect(archive.length).toBeLessThan(100_000);
    const err = await extract(archive, dir, { maxBytes: 1024 * 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveRefusedError);
    expect(String(err)).toMatch(/the model archive unpacks to more than 1 MiB \(the agent's limit\), at "big"/);
    expect(fs.existsSync(path.join(dir, 'big'))).toBe(false);
  });

  it('stops past the entry limit with a clear error', async () => {
    const dir = tmp();
    const entries: Entry[] = Array.from({ length: 500 }, (_, i) => ({ path: `f${i}`, body: '' }));
    await expect(extract(tarOf(entries), dir, { maxFiles: 100 })).rejects.toThrow(/the model archive holds more than 100 entries \(the agent's limit\)/);
    expect(fs.readdirSync(dir).length).toBeLessThanOrEqual(100);
  });

  it('bounds the decompressed stream too (what ignored or trailing data expands to)', async () => {
    const dir = tmp();
    // A valid archive followed by 64 MiB of zeros: no entry counts them, the decompressed-size bound does.
    const raw = Buffer.concat([tarOf([{ path: 'a', body: 'x' }], { gzip: false }), Buffer.alloc(64 * 1024 * 1024)]);
    await expect(extract(zlib.gzipSync(raw), dir, { maxBytes: 1024 * 1024, maxFiles: 10 })).rejects.toThrow(/expands to more than .* of tar data/);
  });

  it('refuses what is not a tar at all', async () => {
    await expect(extract(zlib.gzipSync(Buffer.from('not a tar'.repeat(100))), tmp())).rejects.toThrow(ArchiveRefusedError);
  });
});
