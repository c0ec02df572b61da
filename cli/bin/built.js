// Whether cli/dist holds a bundle of the CLI's current sources. Shared by cli/bin/hone.js (run the bundle, or
// fall back to the TypeScript sources) and cli/scripts/build.js (build only when something changed).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.dirname(CLI_DIR);
export const DIST = path.join(CLI_DIR, 'dist');
/** Written last by a build: `{ entry, builtAt, inputs }`, inputs relative to ROOT. */
export const MANIFEST = path.join(DIST, 'build.json');

/**
 * The bundle's entry file when every input the build read is unchanged since it started; null when there is
 * no build or an input is newer or gone (a source edited, a branch switched, `npm install` run since).
 */
export function freshBuild(manifest = MANIFEST, root = ROOT) {
  let m;
  try {
    m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  } catch {
    return null;
  }
  for (const f of m.inputs) {
    let mtime;
    try {
      mtime = fs.statSync(path.join(root, f)).mtimeMs;
    } catch {
      return null;
    }
    if (mtime > m.builtAt) return null;
  }
  return path.join(path.dirname(manifest), m.entry);
}
