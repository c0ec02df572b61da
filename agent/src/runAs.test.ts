import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canTraverse, lookupUser, probeReadable, resolveRunAs } from './runAs';

const root = process.getuid?.() === 0;

describe('the user ranks run as', () => {
  it('looks users up by name and id', () => {
    expect(lookupUser('root')).toMatchObject({ name: 'root', uid: 0, gid: 0 });
    expect(lookupUser('0').name).toBe('root');
    expect(() => lookupUser('no-such-user-hone')).toThrow(/no user "no-such-user-hone"/);
  });

  it.runIf(root)('is nobody by default for an agent running as root; root only when asked, with a warning', () => {
    const warnings: string[] = [];
    expect(resolveRunAs(undefined, (m) => warnings.push(m))).toMatchObject({ name: 'nobody', uid: 65534 });
    expect(warnings).toEqual([]);
    expect(resolveRunAs('root', (m) => warnings.push(m))).toBeNull();
    expect(warnings.join()).toMatch(/ranks run as root and can read the agent credential/);
  });

  it.runIf(!root)('is the agent\'s own user when it is not root, and another user is refused', () => {
    expect(resolveRunAs(undefined, () => {})).toBeNull();
    expect(() => resolveRunAs('nobody', () => {})).toThrow(/only root can start ranks as another user/);
  });

  it.runIf(root)('tells whether a user can reach a directory, and read files as that user', () => {
    const nobody = lookupUser('nobody');
    const priv = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-private-'));
    const inner = path.join(priv, 'work');
    fs.mkdirSync(inner, { mode: 0o755 });
    expect(canTraverse(nobody, inner)).toBe(false); // mkdtemp makes 0700
    fs.chmodSync(priv, 0o711);
    expect(canTraverse(nobody, inner)).toBe(true);
    fs.writeFileSync(path.join(inner, 'secret'), 'x', { mode: 0o600 });
    expect(probeReadable(nobody, [path.join(inner, 'secret')])).toMatch(/secret: EACCES/);
    fs.writeFileSync(path.join(inner, 'public'), 'x', { mode: 0o644 });
    expect(probeReadable(nobody, [path.join(inner, 'public')])).toBeNull();
  });
});
