import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtHarness } from './harnessBundle';

function checkout(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-bundle-'));
  for (const d of ['harness/src/core', 'protocol/src', 'harness/dist']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.writeFileSync(path.join(root, 'harness/src/core/context.ts'), 'export {};\n');
  fs.writeFileSync(path.join(root, 'protocol/src/index.ts'), 'export {};\n');
  return root;
}

const at = (file: string, s: number) => fs.utimesSync(file, s, s);

describe('builtHarness', () => {
  it('is null without a bundle', () => {
    expect(builtHarness(checkout())).toBeNull();
  });

  it('gives the bundle when it is newer than every source', () => {
    const root = checkout();
    const bundle = path.join(root, 'harness/dist/harness.mjs');
    fs.writeFileSync(bundle, '');
    at(path.join(root, 'harness/src/core/context.ts'), 1000);
    at(path.join(root, 'protocol/src/index.ts'), 1000);
    at(bundle, 2000);
    expect(builtHarness(root)).toBe(bundle);
  });

  it('is null when a source (nested, or in protocol) changed after the build', () => {
    const root = checkout();
    const bundle = path.join(root, 'harness/dist/harness.mjs');
    fs.writeFileSync(bundle, '');
    at(bundle, 2000);
    at(path.join(root, 'harness/src/core/context.ts'), 1000);
    at(path.join(root, 'protocol/src/index.ts'), 3000);
    expect(builtHarness(root)).toBeNull();
    at(path.join(root, 'protocol/src/index.ts'), 1000);
    at(path.join(root, 'harness/src/core/context.ts'), 3000);
    expect(builtHarness(root)).toBeNull();
  });
});
