import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { describe, expect, it } from 'vitest';
import { isIgnored, listContextFiles, modelDirFiles, packContext, parseIgnore } from './context';

function makeDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-ctx-'));
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), c);
  }
  return dir;
}

describe('model directory packing', () => {
  it('applies .honeignore patterns, negation and the built-in ignores', () => {
    const dir = makeDir({
      'model.ts': 'x',
      'data/big.bin': 'x',
      'data/keep.json': 'x',
      'out/run.log': 'x',
      'node_modules/pkg/index.js': 'x',
      'sub/notes.log': 'x',
      '.honeignore': 'data/\n!data/keep.json\n*.log\n',
    });
    expect(listContextFiles(dir)).toEqual(['.honeignore', 'model.ts']);
  });

  it('matches anchored and double-star patterns like .gitignore', () => {
    const rules = parseIgnore('/top.txt\n**/cache/**\n');
    expect(isIgnored(rules, 'top.txt', false)).toBe(true);
    expect(isIgnored(rules, 'a/top.txt', false)).toBe(false);
    expect(isIgnored(rules, 'a/cache/x', false)).toBe(true);
  });

  it('packs a gzipped tar that unpacks to the same files', async () => {
    const dir = makeDir({ 'model.ts': 'export const a = 1;\n', 'lib/util.ts': 'export {}\n' });
    const { data, files } = await packContext(dir, 1 << 20);
    expect(files).toBe(2);
    expect(data[0]).toBe(0x1f);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-ctx-out-'));
    fs.writeFileSync(path.join(out, 'ctx.tgz'), data);
    await tar.x({ file: path.join(out, 'ctx.tgz'), cwd: out });
    expect(fs.readFileSync(path.join(out, 'lib/util.ts'), 'utf8')).toBe('export {}\n');
  });

  it('refuses a directory over the size limit with a message naming .honeignore', async () => {
    const dir = makeDir({ 'weights.bin': Buffer.alloc(64 * 1024, 1).toString('base64') + Math.random() });
    await expect(packContext(dir, 1024)).rejects.toThrow(/\.honeignore/);
  });

  it('refuses a missing, an empty, and an all-ignored model directory, saying which', () => {
    expect(() => modelDirFiles('/nonexistent/model')).toThrow('model directory /nonexistent/model does not exist');
    const empty = makeDir({});
    fs.mkdirSync(path.join(empty, 'sub'));
    expect(() => modelDirFiles(empty)).toThrow(`model directory ${empty} is empty`);
    const ignored = makeDir({ '.honeignore': '*\n', 'model.ts': 'x', 'node_modules/a/index.js': 'x' });
    expect(() => modelDirFiles(ignored)).toThrow(/every file in model directory .* is ignored \(by its \.honeignore/);
  });
});
