import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEntrypoint } from './entrypoint';
import { parseEntrypoint } from '@hone/protocol/entrypoint';

describe('entrypoints', () => {
  it('parses file:export and bare files', () => {
    expect(parseEntrypoint('model.ts:createTrial')).toEqual({ file: 'model.ts', exportName: 'createTrial' });
    expect(parseEntrypoint('sub/train.ts')).toEqual({ file: 'sub/train.ts', exportName: null });
  });

  it('tells Trial API factories from core API functions, honouring explicit marks', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hone-entry-'));
    const harness = path.resolve(path.dirname(new URL(import.meta.url).pathname), 'index.ts');
    await writeFile(
      path.join(dir, 'm.mjs'),
      `import { defineCore, defineTrial } from ${JSON.stringify(harness)};
       export function createTrial() {}
       export const loop = defineCore(async () => {});
       export default defineTrial(() => {});
       export const notAFunction = 3;`,
    );
    expect((await loadEntrypoint('m.mjs:createTrial', dir)).kind).toBe('trial');
    expect((await loadEntrypoint('m.mjs:loop', dir)).kind).toBe('core');
    expect((await loadEntrypoint('m', dir)).kind).toBe('trial');
    await expect(loadEntrypoint('m.mjs:notAFunction', dir)).rejects.toThrow(/no exported function "notAFunction".*createTrial/);
    await expect(loadEntrypoint('missing.ts:x', dir)).rejects.toThrow(/missing.ts not found/);
  });
});
