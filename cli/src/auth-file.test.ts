import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { authFilePath, findSession, masterKey, readAuthFile, removeSession, saveSession } from './auth-file';

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hone-auth-file-'));

describe('the auth file', () => {
  it('is HONE_AUTH_FILE, else ~/.hone/auth.json', () => {
    expect(authFilePath({ HONE_AUTH_FILE: '/x/auth.json' })).toBe('/x/auth.json');
    expect(authFilePath({})).toBe(path.join(os.homedir(), '.hone', 'auth.json'));
  });

  it('keeps one session per master URL, readable by its owner only, in a directory it makes 0700', () => {
    const file = path.join(tmp(), 'new-dir', 'auth.json');
    saveSession('http://127.0.0.1:8080/', { token: 'hone_a', username: 'admin' }, file);
    saveSession('https://hone.example', { token: 'hone_b', username: 'alice' }, file);
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
    expect(readAuthFile(file)).toEqual({
      version: 1,
      masters: { 'http://127.0.0.1:8080': { token: 'hone_a', username: 'admin' }, 'https://hone.example': { token: 'hone_b', username: 'alice' } },
    });
    // Nothing is left beside it.
    expect(fs.readdirSync(path.dirname(file))).toEqual(['auth.json']);
  });

  it('finds a session however the URL is spelled (scheme, trailing slash) and replaces it', () => {
    const file = path.join(tmp(), 'auth.json');
    fs.writeFileSync(file, JSON.stringify({ version: 1, masters: { '127.0.0.1:8080/': { token: 'old', username: 'admin' } } }), { mode: 0o644 });
    expect(findSession(readAuthFile(file), 'http://127.0.0.1:8080')?.token).toBe('old');
    expect(saveSession('http://127.0.0.1:8080', { token: 'new', username: 'bob' }, file)?.token).toBe('old');
    expect(readAuthFile(file).masters).toEqual({ 'http://127.0.0.1:8080': { token: 'new', username: 'bob' } });
    // A file written by hand with a looser mode is 0600 once the CLI has written it.
    expect(mode(file)).toBe(0o600);
    expect(masterKey('hone.example:8080')).toBe('http://hone.example:8080');
  });

  it('forgets one master and leaves the others', () => {
    const file = path.join(tmp(), 'auth.json');
    saveSession('http://a:1', { token: 'ta', username: 'x' }, file);
    saveSession('http://b:1', { token: 'tb', username: 'y' }, file);
    expect(removeSession('http://a:1/', file)?.token).toBe('ta');
    expect(removeSession('http://a:1', file)).toBeUndefined();
    expect(Object.keys(readAuthFile(file).masters)).toEqual(['http://b:1']);
  });

  it('reads a missing file as empty and refuses one that is not an auth file, naming it', () => {
    const dir = tmp();
    expect(readAuthFile(path.join(dir, 'none.json'))).toEqual({ version: 1, masters: {} });
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"tokens": []}');
    expect(() => readAuthFile(bad)).toThrow(`the auth file ${bad} is not a Hone auth file`);
  });
});
