import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CredentialStore, masterKey } from './credentials';

describe('the agent credential file', () => {
  it('stores the secret per master URL, readable by the agent\'s user only', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-cred-'));
    const store = new CredentialStore(dir);
    expect(store.load('http://m1:8080', 'gpu-01')).toBeUndefined();
    store.save('http://m1:8080/', 'gpu-01', 'secret-one');
    store.save('https://m2:8443', 'gpu-01', 'secret-two');
    expect(fs.statSync(path.join(dir, 'credential.json')).mode & 0o777).toBe(0o600);
    expect(store.load('ws://m1:8080', 'gpu-01')).toBe('secret-one');
    expect(store.load('https://m2:8443/api', 'gpu-01')).toBe('secret-two');
    // Another agent id in the same directory does not get this one's secret.
    expect(store.load('http://m1:8080', 'gpu-02')).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual(['credential.json']);
  });

  it('falls back to the same host under another scheme or port (a master moved to https)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-cred-'));
    const store = new CredentialStore(dir);
    store.save('http://master.lan:8080', 'gpu-01', 'secret-one');
    expect(store.load('https://master.lan:8443', 'gpu-01')).toBe('secret-one');
    expect(store.load('https://other.lan:8443', 'gpu-01')).toBeUndefined();
  });

  it('names a master by scheme and host', () => {
    expect(masterKey('wss://master.example:8443/agents')).toBe('https://master.example:8443');
    expect(masterKey('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
  });
});
