// The master's configuration file: its keys are the flags, flags override it, a bad file stops the master with the key named.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, startMasterProcess, tmpDir, type MasterProc } from '../helpers/processes';

let master: MasterProc | undefined;
afterEach(async () => {
  await master?.kill();
  master = undefined;
});

function runMaster(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'master/src/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('master --config', () => {
  it('takes its settings from the file, with flags overriding them', async () => {
    const dir = tmpDir('master-config');
    const file = path.join(dir, 'master.yaml');
    // The file asks for a data directory and a grid limit; the command line overrides the port (the helper passes 0).
    fs.writeFileSync(file, `port: 1\ndata_dir: ${path.join(dir, 'from-file')}\nmax_grid_points: 7\nresource_pools:\n  - name: default\n`);
    master = await startMasterProcess({ dataDir: path.join(dir, 'from-flag'), args: ['--config', file] });
    expect(master.port).not.toBe(1);
    // The flag's data directory won over the file's.
    expect(fs.existsSync(path.join(dir, 'from-flag'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'from-file'))).toBe(false);
  }, 120_000);

  it('a bad file stops the master with exit 2, naming the key', () => {
    const dir = tmpDir('master-config-bad');
    const file = path.join(dir, 'master.yaml');
    fs.writeFileSync(file, 'prot: 8080\n');
    const r = runMaster(['--config', file, '--data-dir', dir]);
    expect(r.status).toBe(2);
    expect(r.output).toMatch(/master config .*master\.yaml: unknown key "prot" \(known: port, host/);
    fs.writeFileSync(file, 'resource_pools:\n  - name: gpus\n    resource_manager: {type: slurm}\n');
    const r2 = runMaster(['--config', file, '--data-dir', dir, '--port', '0']);
    expect(r2.status).toBe(1);
    expect(r2.output).toMatch(/resource_pools\[0\]\.resource_manager\.type: "slurm" is not supported/);
    const r3 = runMaster(['--config', path.join(dir, 'missing.yaml'), '--data-dir', dir]);
    expect(r3.status).toBe(2);
    expect(r3.output).toMatch(/cannot read the config file .*missing\.yaml/);
  }, 180_000);
});
