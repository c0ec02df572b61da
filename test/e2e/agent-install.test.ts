// deploy/install-agent.sh writes what the agent needs to join a master with its token, trust a private CA and run
// trials as an unprivileged user; HONE_INSTALL_ROOT makes it write under a directory and start nothing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tmpDir } from '../helpers/processes';

function install(args: string[]): { code: number; out: string; dest: string; file: (p: string) => string } {
  const dest = tmpDir('agent-install');
  const r = spawnSync('bash', [path.join(ROOT, 'deploy/install-agent.sh'), ...args], { env: { ...process.env, HONE_INSTALL_ROOT: dest }, encoding: 'utf8' });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}`, dest, file: (p) => fs.readFileSync(path.join(dest, p), 'utf8') };
}

describe('deploy/install-agent.sh', () => {
  it('writes the token, the CA and the rank user where only root reads the secrets, and a unit running the agent as root to switch users', () => {
    const ca = path.join(tmpDir('agent-install-ca'), 'ca.pem');
    fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const r = install(['--master', 'https://master.example:8443', '--token', 'the-token', '--ca', ca, '--pool', 'gpu', '--id', 'gpu-07']);
    expect(r.code, r.out).toBe(0);
    const env = r.file('etc/hone/agent.env');
    expect(env).toContain('HONE_MASTER=https://master.example:8443\n');
    expect(env).toContain('HONE_AGENT_TOKEN=the-token\n');
    expect(env).toContain('HONE_AGENT_RUN_AS=nobody\n');
    expect(env).toContain('HONE_CA=/etc/hone/master-ca.pem\n');
    expect(env).toContain('HONE_AGENT_WORK_DIR=/var/lib/hone-agent\n');
    expect(fs.statSync(path.join(r.dest, 'etc/hone/agent.env')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(r.dest, 'etc/hone/master-ca.pem')).mode & 0o777).toBe(0o644);
    expect(fs.statSync(path.join(r.dest, 'var/lib/hone-agent')).mode & 0o777).toBe(0o711);
    const unit = r.file('etc/systemd/system/hone-agent.service');
    expect(unit).toMatch(/^User=root$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toContain(`ExecStart=${process.execPath} --import tsx ${ROOT}/agent/src/main.ts`);
    expect(unit).not.toContain('@');
  });

  it('runs the agent itself unprivileged with --agent-user, its ranks as that user, and says what that costs', () => {
    const r = install(['--master', 'https://m:8443', '--agent-user', 'nobody']);
    expect(r.code, r.out).toBe(0);
    expect(r.file('etc/systemd/system/hone-agent.service')).toMatch(/^User=nobody$/m);
    expect(r.file('etc/hone/agent.env')).toContain('HONE_AGENT_RUN_AS=nobody\n');
    expect(r.out).toMatch(/trial code can read the agent's credential/);
  });

  it('refuses a missing rank user, a CA file without a certificate, and warns about a plain-http master', () => {
    expect(install(['--master', 'https://m', '--run-as', 'no-such-user-hone']).out).toMatch(/--run-as no-such-user-hone: no such user/);
    const bad = path.join(tmpDir('agent-install-bad'), 'ca.pem');
    fs.writeFileSync(bad, 'not a certificate');
    const r = install(['--master', 'https://m', '--ca', bad]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/no PEM certificate/);
    expect(install(['--master', 'http://master.example:8080']).out).toMatch(/plain http/);
  });
});
