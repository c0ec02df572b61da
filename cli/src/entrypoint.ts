// The entrypoint checked against the files about to be uploaded, so a typo or a Python command is refused at
// submit, in a second, rather than when the first trial starts on an agent. The harness resolves an entrypoint
// `file[:export]` in the unpacked model directory (harness/src/entrypoint.ts); this mirrors that resolution.
import path from 'node:path';

const JS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
/** What the harness tries after the name as written, in order. */
const IMPLIED_EXTENSIONS = ['.ts', '.js', '.mjs', '.mts'];
const FORMS = 'file.ts:exportName for the Trial API, or file.ts for the core API';

const isJs = (f: string): boolean => JS_EXTENSIONS.has(path.extname(f));

/**
 * Why `entrypoint` cannot run from the model directory `dir` whose uploaded files are `files` (relative paths),
 * or null when it can. `exists(file)` says whether a file is in the directory at all (uploaded or ignored).
 */
export function entrypointProblem(entrypoint: string, files: readonly string[], dir: string, exists: (file: string) => boolean): string | null {
  const spec = entrypoint.trim();
  const colon = spec.lastIndexOf(':');
  const file = colon > 1 ? spec.slice(0, colon) : spec;
  const words = file.split(/\s+/);
  const named = words[words.length - 1]!;
  const notJs = `entrypoint "${entrypoint}" is not JavaScript or TypeScript: Hone runs TensorFlow.js models written in JavaScript or TypeScript (entrypoint ${FORMS})`;
  if (path.extname(named) && !isJs(named)) return notJs;
  if (words.length > 1) return `entrypoint "${entrypoint}" is a command; name the file instead (${FORMS}), and the harness runs it`;
  const rel = path.posix.normalize(file.replace(/\\/g, '/'));
  const candidates = [rel, ...IMPLIED_EXTENSIONS.map((e) => rel + e)];
  const uploaded = new Set(files);
  const found = candidates.find((f) => uploaded.has(f));
  if (found) return isJs(found) ? null : notJs;
  const left = candidates.find(exists);
  if (left) return `entrypoint "${entrypoint}": ${left} is in ${dir} but left out of the upload (by .honeignore, or a built-in ignore like node_modules/)`;
  const js = files.filter(isJs);
  const listed = js.length ? ` (its JavaScript and TypeScript files: ${js.slice(0, 8).join(', ')}${js.length > 8 ? ', ...' : ''})` : ' (it holds no JavaScript or TypeScript file)';
  return `entrypoint "${entrypoint}": ${rel} is not in the model directory ${dir}${listed}`;
}
