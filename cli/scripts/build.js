// Bundles the CLI (cli/src/main.ts with the protocol, commander, cli-table3, ...) into cli/dist/hone.js with
// esbuild, so `hone` starts from plain JavaScript instead of compiling TypeScript through tsx on every call.
// What the commands load with import() (the searcher simulation, tar, the YAML parser, the progress bar)
// becomes chunks under cli/dist/chunks, read only by the commands that need them.
//
//   node cli/scripts/build.js          build when the bundle is missing or older than one of its inputs
//   node cli/scripts/build.js --force  build anyway
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { CLI_DIR, DIST, MANIFEST, ROOT, freshBuild } from '../bin/built.js';

const force = process.argv.includes('--force');
if (!force && freshBuild()) process.exit(0);

const builtAt = Date.now();
const result = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: { hone: path.join(CLI_DIR, 'src/main.ts') },
  outdir: DIST,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  // Bundled CommonJS packages (commander's dependencies, cli-table3) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __honeRequire } from 'node:module'; const require = __honeRequire(import.meta.url);" },
  metafile: true,
  write: false,
  logLevel: 'warning',
});

// Each file is written beside its place and renamed over it, so a `hone` started meanwhile reads a whole file.
const written = new Set();
for (const f of result.outputFiles) {
  fs.mkdirSync(path.dirname(f.path), { recursive: true });
  const tmp = `${f.path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, f.contents);
  fs.renameSync(tmp, f.path);
  written.add(f.path);
}
// Chunks of earlier builds go; another build's files still being written (.tmp) stay.
for (const e of fs.readdirSync(DIST, { recursive: true, withFileTypes: true })) {
  const p = path.join(e.parentPath, e.name);
  if (e.isFile() && !written.has(p) && p !== MANIFEST && !p.endsWith('.tmp')) fs.rmSync(p, { force: true });
}

// Sources by their own times; packages (whose files npm dates 1985) by npm's record of the last install.
const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.split('/').includes('node_modules'));
inputs.push(path.relative(ROOT, new URL(import.meta.url).pathname));
if (fs.existsSync(path.join(ROOT, 'node_modules/.package-lock.json'))) inputs.push('node_modules/.package-lock.json');
const tmp = `${MANIFEST}.${process.pid}.tmp`;
fs.writeFileSync(tmp, JSON.stringify({ entry: 'hone.js', builtAt, inputs }, null, 1) + '\n');
fs.renameSync(tmp, MANIFEST);
const bytes = result.outputFiles.reduce((n, f) => n + f.contents.length, 0);
console.log(`built ${path.relative(ROOT, path.join(DIST, 'hone.js'))} (${result.outputFiles.length} files, ${(bytes / 1024).toFixed(0)} KiB) from ${inputs.length} sources`);
