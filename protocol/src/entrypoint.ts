// Entrypoints name the user's code: `file.ts:exportName` (a Trial API factory, like Determined's
// `model_def:MyTrial`) or a bare `file.ts` (a module whose default export is a core API function). The file is
// JavaScript or TypeScript; its extension may be left out. Shared by the config parser, the master's archive
// check, the CLI and the harness, so they all read an entrypoint the same way.

/** Extensions a bare file name is tried with, in order, and the ones an entrypoint may carry. */
export const ENTRYPOINT_EXTENSIONS = ['.ts', '.js', '.mjs', '.mts', '.cjs', '.cts'] as const;

export function parseEntrypoint(spec: string): { file: string; exportName: string | null } {
  const s = spec.trim();
  const colon = s.lastIndexOf(':');
  // "C:\..." style drive letters aside, a colon separates the file from the export.
  if (colon > 1) return { file: s.slice(0, colon), exportName: s.slice(colon + 1) || null };
  return { file: s, exportName: null };
}

/** Why this entrypoint cannot be a Hone entrypoint, or undefined when it can. */
export function entrypointRefusal(spec: string): string | undefined {
  const { file } = parseEntrypoint(spec);
  if (!file) return 'names no file (expected file.ts:exportName or file.ts)';
  const hint = 'Hone runs TensorFlow.js models written in JavaScript or TypeScript: name a .ts or .js file, e.g. model.ts:createTrial or train.ts';
  if (/\s/.test(file)) return `"${spec}" looks like a command; ${hint}`;
  const ext = /\.[A-Za-z0-9]+$/.exec(file)?.[0];
  if (ext && !(ENTRYPOINT_EXTENSIONS as readonly string[]).includes(ext)) return `"${file}" is not a JavaScript or TypeScript file; ${hint}`;
  return undefined;
}

/** The files (relative to the model directory, normalised) an entrypoint may refer to, most likely first. */
export function entrypointCandidates(spec: string): string[] {
  const file = parseEntrypoint(spec).file.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  const hasExt = (ENTRYPOINT_EXTENSIONS as readonly string[]).some((e) => file.endsWith(e));
  return hasExt ? [file] : [file, ...ENTRYPOINT_EXTENSIONS.map((e) => `${file}${e}`)];
}
