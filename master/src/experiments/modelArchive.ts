// What the master checks in a submitted model directory (a gzipped tar) before storing it: that it holds files,
// and that the entrypoint names one of them. The archive is listed, never extracted here.
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import * as tar from 'tar';
import { HoneError } from '@hone/protocol/errors';
import { entrypointCandidates } from '@hone/protocol';

export interface ArchiveLimits {
  /** Most bytes the archive may expand to (its files added up). */
  maxBytes: number;
  /** Most entries (files, directories, links) it may hold. */
  maxEntries: number;
}

/**
 * Regular files of the archive, as normalised relative paths (`model.ts`, `lib/util.ts`). The archive is
 * decompressed as a stream and measured as it goes: one that would expand past the limits (a decompression
 * bomb) is refused as soon as it crosses them, without inflating the rest.
 */
export async function archiveFiles(gz: Buffer, limits: ArchiveLimits): Promise<string[]> {
  const files: string[] = [];
  let entries = 0;
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    const gunzip = zlib.createGunzip();
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      gunzip.destroy();
      reject(e);
    };
    const parser = tar.t({
      onReadEntry: (e) => {
        entries += 1;
        bytes += e.size ?? 0;
        if (entries > limits.maxEntries) fail(new HoneError('CONTEXT_TOO_LARGE', `context: the model directory has more than ${limits.maxEntries} entries; add what training does not need to .honeignore`));
        else if (bytes > limits.maxBytes) fail(new HoneError('CONTEXT_TOO_LARGE', `context: the model directory expands to more than ${Math.round(limits.maxBytes / 1048576)} MiB; add large files to .honeignore`));
        if (e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile') files.push(path.posix.normalize(e.path).replace(/^(\.\/)+/, ''));
        e.resume();
      },
    });
    parser.on('end', () => !failed && resolve());
    parser.on('error', (e: Error) => fail(e));
    gunzip.on('error', (e) => fail(e));
    Readable.from(gz).pipe(gunzip).pipe(parser as unknown as NodeJS.WritableStream);
  });
  return files;
}

/** Why the archive cannot run this entrypoint, or undefined when the entrypoint's file is in it. */
export function archiveRefusal(files: string[], entrypoint: string): string | undefined {
  if (!files.length) return 'the model directory is empty (or everything in it is excluded by .honeignore)';
  const have = new Set(files);
  const candidates = entrypointCandidates(entrypoint);
  if (candidates.some((c) => have.has(c))) return undefined;
  const scripts = files.filter((f) => /\.(m|c)?[jt]s$/.test(f) && !f.includes('/')).slice(0, 10);
  return `entrypoint "${entrypoint}": ${candidates[0]} is not in the uploaded model directory${scripts.length ? ` (it has ${scripts.join(', ')})` : ''}`;
}
