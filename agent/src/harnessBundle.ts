// Which harness the agent starts: the built one (harness/dist/harness.mjs, `npm run build:harness`), which plain
// `node` starts in a fraction of the CPU that compiling the harness's TypeScript through tsx costs, or, when it is
// missing or older than any harness or protocol source (a checkout edited since its last build), the sources
// through tsx, so that a stale bundle never runs old code.
import fs from 'node:fs';
import path from 'node:path';

/** The newest modification time (ms) of the files under `dir` (0 when there is none). */
function newestMtime(dir: string): number {
  let newest = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.isFile()) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** The built harness of the checkout at `repoRoot` when it is there and up to date, else null. */
export function builtHarness(repoRoot: string): string | null {
  const bundle = path.join(repoRoot, 'harness/dist/harness.mjs');
  let built: number;
  try {
    built = fs.statSync(bundle).mtimeMs;
  } catch {
    return null;
  }
  const sources = Math.max(...['harness/src', 'protocol/src', 'harness/package.json', 'protocol/package.json'].map((p) => {
    const full = path.join(repoRoot, p);
    return p.endsWith('.json') ? (fs.existsSync(full) ? fs.statSync(full).mtimeMs : 0) : newestMtime(full);
  }));
  return built >= sources ? bundle : null;
}
