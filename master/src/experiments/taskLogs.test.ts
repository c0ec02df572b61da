import { describe, expect, it } from 'vitest';
import { levelOf } from './taskLogs';

describe('levelOf', () => {
  it('reads the level from a prefix near the start of the line', () => {
    expect(levelOf('2026-12-01 WARNING: disk almost full', 'stdout')).toBe('WARN');
    expect(levelOf('CRITICAL failure', 'stdout')).toBe('FATAL');
    expect(levelOf('[DEBUG] batch 3', 'stderr')).toBe('DEBUG');
  });
  it('falls back on the stream: stderr lines are errors, stdout lines are info', () => {
    expect(levelOf('Traceback (most recent call last):', 'stderr')).toBe('ERROR');
    expect(levelOf('epoch 1 loss 0.3', 'stdout')).toBe('INFO');
  });
  it('ignores level words far into the line', () => {
    expect(levelOf(`${'x'.repeat(80)} ERROR`, 'stdout')).toBe('INFO');
  });
});
