#!/usr/bin/env node
// `hone`: runs the bundled CLI (cli/dist, built by cli/scripts/build.js on `npm start` and `npm test`) when it
// is current, else the TypeScript sources through tsx, so someone editing the CLI never runs stale code.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI_DIR, freshBuild } from './built.js';

const built = freshBuild();
if (built) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(CLI_DIR, 'src', 'main.ts')).href);
}
