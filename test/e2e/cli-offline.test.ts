// The hone CLI as a process, without a real cluster: against no master at all, or a stand-in master that
// answers (or drops the connection) on cue. What a user sees on stdout, stderr and in the exit status.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBuild } from '../../cli/bin/built.js';
import { buildCli, hone } from '../../cli/test/hone';
import { ROOT, tmpDir } from '../helpers/processes';

const HINT = 'is it running? Set -m/--master or HONE_MASTER';

/** A URL where nothing listens: a port that was just free. */
async function deadMaster(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

/** A model directory made of these files. */
function modelDir(files: Record<string, string>): string {
  const dir = tmpDir('cli-model');
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

/** An experiment config file with this entrypoint. */
function configFile(entrypoint: string): string {
  const f = path.join(tmpDir('cli-config'), 'exp.yaml');
  fs.writeFileSync(f, `entrypoint: ${entrypoint}\nsearcher:\n  name: single\n  metric: validation_loss\n  max_length:\n    batches: 10\n`);
  return f;
}

beforeAll(() => buildCli());

describe('hone without a cluster', () => {
  let dead: string;
  beforeAll(async () => {
    dead = await deadMaster();
  });

  it('runs from the bundle once built', () => {
    expect(freshBuild()).toBe(path.join(ROOT, 'cli/dist/hone.js'));
  });

  it('prints its help and exits 0 when given no command', async () => {
    const r = await hone([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: hone');
    expect(r.stdout).toContain('experiment');
  });

  it('exits quietly with 0 when its reader goes away (| head)', async () => {
    const r = await hone(['config', 'validate', 'examples/synthetic/random.yaml'], { closeStdout: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('prints tables without colour codes when stdout is not a terminal', async () => {
    const r = await hone(['searcher', 'simulate', 'examples/synthetic/random.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('validation_loss');
    expect(r.stdout).not.toContain('\x1b[');
  });

  it('gives config validate and experiment create the same message for a missing file and for bad YAML', async () => {
    const bad = path.join(tmpDir('cli-yaml'), 'bad.yaml');
    fs.writeFileSync(bad, 'name: [unclosed\n');
    for (const file of ['does-not-exist.yaml', bad]) {
      const validate = await hone(['config', 'validate', file]);
      const create = await hone(['-m', dead, 'experiment', 'create', file, 'examples/synthetic']);
      expect(validate.code).toBe(1);
      expect(create.code).toBe(1);
      expect(create.stderr).toBe(validate.stderr);
      expect(validate.stderr).toMatch(file === bad ? /invalid experiment config .*bad\.yaml: config is not valid YAML/ : /config file does-not-exist\.yaml does not exist/);
    }
  });

  it('exits 3 with the same hint for every command when the master cannot be reached', async () => {
    for (const args of [
      ['experiment', 'list'],
      ['experiment', 'create', 'examples/synthetic/single.yaml', 'examples/synthetic'],
      ['trial', 'logs', '1', '-f'],
      ['checkpoint', 'download', '0f3c', '-o', tmpDir('cli-ckpt')],
      ['agent', 'list'],
    ]) {
      const r = await hone(['-m', dead, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 3 });
      expect(r.stderr).toContain(`cannot reach the master at ${dead}`);
      expect(r.stderr).toContain(HINT);
      // Nothing is packed for a master that is not there.
      expect(r.stderr).not.toContain('Packed');
    }
  });

  describe('experiment create checks the model directory and the entrypoint before anything is sent', () => {
    // A dead master: each refusal comes before the CLI tries to reach it (exit 1, not 3).
    const create = (config: string, dir: string) => hone(['-m', dead, 'experiment', 'create', config, dir]);

    it('a missing model directory', async () => {
      const r = await create(configFile('model.ts:createTrial'), 'no/such/dir');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('model directory no/such/dir does not exist');
    });

    it('an empty model directory, and one whose files .honeignore all leaves out', async () => {
      const empty = await create(configFile('model.ts:createTrial'), modelDir({}));
      expect(empty.code).toBe(1);
      expect(empty.stderr).toMatch(/model directory .* is empty/);
      expect(empty.stderr).not.toContain('no paths specified');
      const ignored = await create(configFile('model.ts:createTrial'), modelDir({ '.honeignore': '*.ts\n.honeignore\n', 'model.ts': 'x' }));
      expect(ignored.code).toBe(1);
      expect(ignored.stderr).toMatch(/every file in model directory .* is ignored \(by its \.honeignore/);
    });

    it('an entrypoint whose file is not in the upload', async () => {
      const dir = modelDir({ 'model.ts': 'export {}', 'data/train.ts': 'x', '.honeignore': 'data/\n' });
      const typo = await create(configFile('modle.ts:createTrial'), dir);
      expect(typo.code).toBe(1);
      expect(typo.stderr).toContain(`entrypoint "modle.ts:createTrial": modle.ts is not in the model directory ${dir} (its JavaScript and TypeScript files: model.ts)`);
      const ignored = await create(configFile('data/train.ts'), dir);
      expect(ignored.code).toBe(1);
      expect(ignored.stderr).toContain('data/train.ts is in');
      expect(ignored.stderr).toContain('left out of the upload');
    });

    it('a Python entrypoint', async () => {
      const r = await create(configFile('python3 train.py'), modelDir({ 'train.py': 'print(1)' }));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Hone runs TensorFlow.js models written in JavaScript or TypeScript');
    });
  });
});

describe('hone against a master that drops the connection', () => {
  let server: http.Server;
  let url: string;
  const authorizations: Array<string | undefined> = [];

  beforeAll(async () => {
    // The start of a checkpoint's tar stream: one 64 KiB file, cut after its first 4 KiB.
    const dir = modelDir({ 'weights.bin': 'w'.repeat(65536) });
    const parts: Buffer[] = [];
    for await (const c of tar.c({ cwd: dir }, ['weights.bin']) as AsyncIterable<Buffer>) parts.push(Buffer.from(c));
    const partial = Buffer.concat(parts).subarray(0, 4096);
    server = http.createServer((req, res) => {
      authorizations.push(req.headers.authorization);
      const u = new URL(req.url!, 'http://x');
      if (u.pathname === '/api/v1/agents') return void res.setHeader('content-type', 'application/json').end('[]');
      if (u.pathname === '/api/v1/trials/1/logs' && !u.searchParams.has('wait_s')) {
        return void res.setHeader('content-type', 'application/json').end(JSON.stringify([{ id: 1, trialId: 1, allocationId: 'a', agentId: 'x', rank: 0, stream: 'stdout', level: 'INFO', ts: '2026-01-02T03:04:05.000Z', line: 'first line' }]));
      }
      if (u.pathname === '/api/v1/checkpoints/c1/download') {
        // Headers and a little of the tar stream, then the master goes away.
        res.writeHead(200, { 'content-type': 'application/x-tar' });
        res.write(partial);
        return void setTimeout(() => res.socket?.destroy(), 50);
      }
      // The log long-poll: the master dies while holding it.
      req.socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('trial logs -f: the lines so far, then exit 3 with the hint', async () => {
    const r = await hone(['-m', url, 'trial', 'logs', '1', '-f']);
    expect(r.stdout).toContain('first line');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(HINT);
  });

  it('checkpoint download: exit 3 with the hint', async () => {
    const r = await hone(['-m', url, 'checkpoint', 'download', 'c1', '-o', tmpDir('cli-ckpt')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(HINT);
  });

  it('--token overrides HONE_TOKEN', async () => {
    authorizations.length = 0;
    expect((await hone(['-m', url, '--token', 'from-flag', 'agent', 'list'], { env: { HONE_TOKEN: 'from-env' } })).code).toBe(0);
    expect((await hone(['-m', url, 'agent', 'list'], { env: { HONE_TOKEN: 'from-env' } })).code).toBe(0);
    expect(authorizations).toEqual(['Bearer from-flag', 'Bearer from-env']);
  });
});

/** A stand-in master that answers as a real one does about sign-in: 401 without a known token, 403 for a refusal. */
function authMaster(known: string): http.RequestListener & { authorizations: Array<string | undefined> } {
  const authorizations: Array<string | undefined> = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    authorizations.push(req.headers.authorization);
    const json = (status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/api/v1/auth/login') return json(401, { error: { code: 'UNAUTHENTICATED', message: 'wrong user name or password' } });
    if (req.headers.authorization !== `Bearer ${known}`) {
      const message = req.headers.authorization ? 'the token is unknown, expired or revoked, or its user is deactivated; sign in again' : 'sign in first: this route needs a user token';
      return json(401, { error: { code: 'UNAUTHENTICATED', message } });
    }
    if (u.pathname === '/api/v1/experiments/1/pause') return json(403, { error: { code: 'PERMISSION_DENIED', message: 'only its owner (alice) or an admin may pause experiment 1 (you are signed in as bob)' } });
    if (u.pathname === '/api/v1/auth/me') return json(200, { username: 'bob', admin: false, active: true, createdAt: '2026-01-02T03:04:05.000Z' });
    json(200, []);
  };
  return Object.assign(handler, { authorizations });
}

describe('hone signing in', () => {
  let server: http.Server;
  let url: string;
  let handler: ReturnType<typeof authMaster>;

  beforeAll(async () => {
    handler = authMaster('hone_good');
    server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('a 401 says how to sign in to that master; exit 1', async () => {
    const r = await hone(['-m', url, 'experiment', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error: sign in first');
    expect(r.stderr).toContain(`Not signed in to ${url}: run \`hone -m ${url} user login\``);
    const env = await hone(['-m', url, 'agent', 'list'], { env: { HONE_TOKEN: 'hone_stale' } });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain(`The token in HONE_TOKEN was refused by ${url}`);
  });

  it('experiment create asks who is signed in before packing anything', async () => {
    const r = await hone(['-m', url, 'experiment', 'create', 'examples/synthetic/single.yaml', 'examples/synthetic']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Not signed in to ${url}`);
    expect(r.stderr).not.toContain('Packed');
  });

  it('a refused sign-in is the master\'s word alone', async () => {
    const r = await hone(['-m', url, 'user', 'login', 'bob', '--password-stdin'], { input: 'nope-nope\n' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Error: wrong user name or password');
  });

  it('sends the session kept in the auth file for that master URL only, and says when it has ended', async () => {
    const file = path.join(tmpDir('cli-authfile'), 'auth.json');
    fs.writeFileSync(file, JSON.stringify({ version: 1, masters: { [`${url}/`]: { token: 'hone_good', username: 'bob' }, 'http://127.0.0.1:1': { token: 'hone_other', username: 'x' } } }));
    handler.authorizations.length = 0;
    const me = await hone(['-m', url, 'user', 'whoami'], { env: { HONE_AUTH_FILE: file } });
    expect(me.stdout).toContain(`bob on ${url}`);
    expect(handler.authorizations).toEqual(['Bearer hone_good']);
    // HONE_TOKEN overrides the file.
    expect((await hone(['-m', url, 'agent', 'list'], { env: { HONE_AUTH_FILE: file, HONE_TOKEN: 'hone_good' } })).code).toBe(0);
    fs.writeFileSync(file, JSON.stringify({ version: 1, masters: { [url]: { token: 'hone_expired', username: 'bob' } } }));
    const ended = await hone(['-m', url, 'agent', 'list'], { env: { HONE_AUTH_FILE: file } });
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain(`The session kept for ${url} in ${file} has ended; sign in again: \`hone -m ${url} user login\``);
  });

  it('a 403 shows the master\'s message', async () => {
    const r = await hone(['-m', url, 'experiment', 'pause', '1'], { env: { HONE_TOKEN: 'hone_good' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Error: only its owner (alice) or an admin may pause experiment 1 (you are signed in as bob)');
  });

  it('refuses to ask for a password when stdin is not a terminal, and checks --expires-in before sending', async () => {
    const login = await hone(['-m', url, 'user', 'login', 'bob']);
    expect(login.code).toBe(1);
    expect(login.stderr).toContain('stdin is not a terminal; pass it on stdin with --password-stdin');
    handler.authorizations.length = 0;
    const token = await hone(['-m', url, 'token', 'create', '--description', 'ci', '--expires-in', '30'], { env: { HONE_TOKEN: 'hone_good' } });
    expect(token.code).toBe(1);
    expect(token.stderr).toContain('--expires-in must be a number and a unit');
    expect(handler.authorizations).toEqual([]);
  });
});

describe('hone against an https master', () => {
  let server: https.Server;
  let url: string;
  let caFile: string;

  beforeAll(async () => {
    // A private CA, and a certificate it signed for 127.0.0.1.
    const dir = tmpDir('cli-tls');
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Hone CLI test CA']);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext']);
    caFile = path.join(dir, 'ca.pem');
    server = https.createServer({ key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('refuses a certificate it cannot verify, saying how to trust a private CA (exit 3)', async () => {
    const r = await hone(['-m', url, 'agent', 'list']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot verify the TLS certificate of the master at ${url}`);
    expect(r.stderr).toContain('--ca FILE or HONE_CA');
    expect(r.stderr).not.toContain('is it running?');
  });

  it('trusts the private CA given with --ca or HONE_CA', async () => {
    expect(await hone(['-m', url, '--ca', caFile, 'agent', 'list'])).toMatchObject({ code: 0, stderr: '' });
    expect(await hone(['-m', url, 'agent', 'list'], { env: { HONE_CA: caFile } })).toMatchObject({ code: 0, stderr: '' });
  });

  it('names a --ca file that is not a certificate', async () => {
    const r = await hone(['-m', url, '--ca', path.join(ROOT, 'README.md'), 'agent', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('holds no PEM certificate');
  });
});
