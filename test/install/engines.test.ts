// Every package the lockfile installs must support the Node version the README and package.json name, so that
// `npm ci` on that version prints no EBADENGINE warning (and no package needs a newer Node at run time).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean; dev?: boolean }>;
};

describe('Node engine requirements', () => {
  const oldest = semver.minVersion(rootPkg.engines.node)!.version;

  it('the README names the same oldest Node as package.json', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`Node.js ${oldest.replace(/\.0$/, '')}+`);
  });

  it(`every locked package supports Node ${oldest}`, () => {
    const refusing: string[] = [];
    for (const [where, p] of Object.entries(lock.packages)) {
      const range = !p.engines || Array.isArray(p.engines) ? undefined : p.engines.node;
      if (!where || !range) continue;
      if (!semver.satisfies(oldest, range, { includePrerelease: true })) refusing.push(`${where.replace(/^.*node_modules\//, '')}@${p.version} needs node ${range}`);
    }
    expect(refusing).toEqual([]);
  });
});
