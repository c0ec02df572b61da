import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

/**
 * Writes `.br` and `.gz` siblings of the text assets, so a static server with pre-compressed support
 * (@fastify/static `preCompressed: true`) sends ~110 KB instead of ~340 KB of JavaScript. No new dependency.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'hone-precompress',
    apply: 'build',
    configResolved(c) {
      outDir = path.resolve(c.root, c.build.outDir);
    },
    closeBundle() {
      const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
      for (const f of walk(outDir).filter((f) => /\.(js|css|html|svg|json)$/.test(f))) {
        const data = fs.readFileSync(f);
        if (data.length < 1024) continue;
        fs.writeFileSync(`${f}.gz`, zlib.gzipSync(data, { level: 9 }));
        fs.writeFileSync(`${f}.br`, zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

// The master serves webui/dist at `/` with an SPA fallback. In dev, `HONE_MASTER` points the proxy at a running master.
const master = process.env.HONE_MASTER ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react(), precompress()],
  resolve: {
    // As protocol/package.json exports it: the index, or one file by name (the UI imports errors and format
    // directly, so the bundle does not pull in the config parser's TypeBox and yaml).
    alias: [
      { find: /^@hone\/protocol$/, replacement: fileURLToPath(new URL('../protocol/src/index.ts', import.meta.url)) },
      { find: /^@hone\/protocol\/(.+)$/, replacement: fileURLToPath(new URL('../protocol/src/', import.meta.url)) + '$1.ts' },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: { '/api': { target: master, ws: true } },
  },
});
