// Builds a model-directory archive (gzipped tar) in memory from a name → content map, as `hone experiment create` uploads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';

export async function archive(files: Record<string, string>): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-archive-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      tar.c({ gzip: true, cwd: dir, portable: true }, ['.']).on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve()).on('error', reject);
    });
    return Buffer.concat(chunks);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
