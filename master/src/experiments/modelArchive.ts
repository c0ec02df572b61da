// What the master checks in a submitted model directory (a gzipped tar) before storing it: that it holds files,
// and that the entrypoint names one of them. The archive is listed, never extracted here.
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar';
import { entrypointCandidates } from '@hone/protocol';

/** Regular files of the archive, as normalised relative paths (`model.ts`, `lib/util.ts`). */
export async function archiveFiles(gz: Buffer): Promise<string[]> {
  const files: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = tar.t({
      onReadEntry: (e) => {
        if (e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile') files.push(path.posix.normalize(e.path).replace(/^(\.\/)+/, ''));
        e.resume();
      },
    });
    parser.on('end', () => resolve());
    parser.on('error', reject);
    Readable.from(gz).on('error', reject).pipe(parser as unknown as NodeJS.WritableStream);
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
