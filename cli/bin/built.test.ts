import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshBuild } from './built.js';

function fixture() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-built-'));
  fs.mkdirSync(path.join(root, 'src'));
  fs.mkdirSync(path.join(root, 'dist'));
  fs.writeFileSync(path.join(root, 'src/a.ts'), 'a');
  fs.writeFileSync(path.join(root, 'src/b.ts'), 'b');
  const past = Date.now() / 1000 - 60;
  for (const f of ['src/a.ts', 'src/b.ts']) fs.utimesSync(path.join(root, f), past, past);
  const manifest = path.join(root, 'dist/build.json');
  fs.writeFileSync(manifest, JSON.stringify({ entry: 'hone.js', builtAt: Date.now() - 1000, inputs: ['src/a.ts', 'src/b.ts'] }));
  return { root, manifest };
}

describe('the bundled CLI is used only while it is current', () => {
  it('is current when no input changed since the build started', () => {
    const { root, manifest } = fixture();
    expect(freshBuild(manifest, root)).toBe(path.join(root, 'dist/hone.js'));
  });

  it('is stale once a source is edited or removed, and absent without a build', () => {
    const a = fixture();
    fs.writeFileSync(path.join(a.root, 'src/b.ts'), 'edited');
    expect(freshBuild(a.manifest, a.root)).toBeNull();
    const b = fixture();
    fs.rmSync(path.join(b.root, 'src/a.ts'));
    expect(freshBuild(b.manifest, b.root)).toBeNull();
    expect(freshBuild(path.join(b.root, 'dist/none.json'), b.root)).toBeNull();
  });
});
