// Builds the harness into one JavaScript file, harness/dist/harness.mjs, so that a trial's process starts with plain
// `node` instead of compiling the harness's TypeScript through tsx's loader on every start (about a CPU-second a
// start on this machine, more than the rest of a short trial). Packages from node_modules stay external: user code
// imports '@tensorflow/tfjs' itself, and must get the very module instance the harness trains with. Our own
// workspace packages (@hone/protocol) are TypeScript and are bundled.
// The agent uses the bundle only while it is newer than every harness and protocol source (harnessBundle.ts in
// agent/), else it falls back to tsx; so a stale bundle never runs old code.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const external = {
  name: 'node-modules-external',
  setup(b) {
    // A bare specifier that is not one of our workspace packages: resolved by Node at run time.
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@hone/') ? undefined : { path: args.path, external: true }));
  },
};
const out = path.join(here, '../dist/harness.mjs');
await build({
  entryPoints: [path.join(here, '../src/bundleEntry.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
  plugins: [external],
  define: { __HONE_BUNDLED__: 'true' },
});
if (!process.argv.includes('--quiet')) console.log(`built ${path.relative(process.cwd(), out)}`);
