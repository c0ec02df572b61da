import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveSession } from './auth-file';
import { resolveToken } from './global-options';

describe('the token a command sends', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hone-token-')), 'auth.json');
  saveSession('http://127.0.0.1:8080', { token: 'hone_session', username: 'admin' }, file);
  const env = { HONE_AUTH_FILE: file };

  it('is --token, else HONE_TOKEN, else the session kept for that master URL', () => {
    expect(resolveToken({ master: 'http://127.0.0.1:8080', token: 'hone_flag' }, { ...env, HONE_TOKEN: 'hone_env' })).toEqual({ token: 'hone_flag', tokenSource: '--token' });
    expect(resolveToken({ master: 'http://127.0.0.1:8080' }, { ...env, HONE_TOKEN: 'hone_env' })).toEqual({ token: 'hone_env', tokenSource: 'HONE_TOKEN' });
    expect(resolveToken({ master: 'http://127.0.0.1:8080/' }, env)).toEqual({ token: 'hone_session', tokenSource: 'auth file', authFile: file });
  });

  it('is none for a master the CLI has not signed in to', () => {
    expect(resolveToken({ master: 'http://127.0.0.1:9090' }, env)).toEqual({ authFile: file });
  });
});
