import { describe, expect, it } from 'vitest';
import { entrypointProblem } from './entrypoint';

const files = ['.honeignore', 'lib/util.ts', 'model.ts', 'train.js'];
const none = () => false;

describe('entrypoint against the uploaded files', () => {
  it('accepts a file in the upload, with or without its extension, with or without an export', () => {
    for (const e of ['model.ts:createTrial', 'model.ts', 'model:createTrial', './model.ts', 'train.js', 'train', 'lib/util.ts:f']) {
      expect(entrypointProblem(e, files, 'm', none)).toBeNull();
    }
  });

  it('names a missing file and lists the scripts that are there', () => {
    expect(entrypointProblem('modle.ts:createTrial', files, 'examples/x', none)).toBe(
      'entrypoint "modle.ts:createTrial": modle.ts is not in the model directory examples/x (its JavaScript and TypeScript files: lib/util.ts, model.ts, train.js)',
    );
  });

  it('says when the file is there but .honeignore leaves it out', () => {
    expect(entrypointProblem('src/main.ts', files, 'm', (f) => f === 'src/main.ts')).toMatch(/src\/main\.ts is in m but left out of the upload \(by \.honeignore/);
  });
});
