// The entrypoint checked against the files about to be uploaded, so a typo is refused at submit, in a second,
// rather than by the master after the upload or when the first trial starts on an agent. The config parser has
// already refused entrypoints that are not JavaScript or TypeScript; this adds what only the CLI can see: the
// directory's files that .honeignore leaves out.
import { ENTRYPOINT_EXTENSIONS, entrypointCandidates } from '@hone/protocol/entrypoint';

const isScript = (f: string): boolean => ENTRYPOINT_EXTENSIONS.some((e) => f.endsWith(e));

/**
 * Why `entrypoint` cannot run from the model directory `dir` whose uploaded files are `files` (relative paths),
 * or null when it can. `exists(file)` says whether a file is in the directory at all (uploaded or ignored).
 */
export function entrypointProblem(entrypoint: string, files: readonly string[], dir: string, exists: (file: string) => boolean): string | null {
  const candidates = entrypointCandidates(entrypoint);
  const uploaded = new Set(files);
  if (candidates.some((f) => uploaded.has(f))) return null;
  const left = candidates.find(exists);
  if (left) return `entrypoint "${entrypoint}": ${left} is in ${dir} but left out of the upload (by .honeignore, or a built-in ignore like node_modules/)`;
  const scripts = files.filter(isScript);
  const listed = scripts.length ? ` (its JavaScript and TypeScript files: ${scripts.slice(0, 8).join(', ')}${scripts.length > 8 ? ', ...' : ''})` : ' (it holds no JavaScript or TypeScript file)';
  return `entrypoint "${entrypoint}": ${candidates[0]} is not in the model directory ${dir}${listed}`;
}
