import { describe, expect, it } from 'vitest';
import { entrypointCandidates, parseEntrypoint } from './entrypoint';

describe('entrypoints', () => {
  it('splits the file from the export', () => {
    expect(parseEntrypoint('model.ts:createTrial')).toEqual({ file: 'model.ts', exportName: 'createTrial' });
    expect(parseEntrypoint(' train.ts ')).toEqual({ file: 'train.ts', exportName: null });
  });
  it('names the files an entrypoint may refer to, extensions tried in the harness order', () => {
    expect(entrypointCandidates('./sub/model.ts:t')).toEqual(['sub/model.ts']);
    expect(entrypointCandidates('model_def:MnistTrial')).toEqual(['model_def', 'model_def.ts', 'model_def.js', 'model_def.mjs', 'model_def.mts', 'model_def.cjs', 'model_def.cts']);
  });
});
