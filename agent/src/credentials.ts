// The agent's own credential: the secret a master issued to this agent id (welcome.agentSecret), presented in
// every later hello. Kept in `<workDir>/credential.json` (mode 0600, readable by the agent's user only), keyed by
// master URL, so one work directory can serve several masters over time without mixing their secrets.
//
//   { "version": 1, "masters": { "https://master.example:8080": { "agentId": "gpu-01", "secret": "…", "issuedAt": "…" } } }
import fs from 'node:fs';
import path from 'node:path';

export const CREDENTIAL_FILE = 'credential.json';

interface CredentialFile {
  version: 1;
  masters: Record<string, { agentId: string; secret: string; issuedAt: string }>;
}

/** The key of a master in the file: its URL without path, trailing slash or ws/http distinction. */
export function masterKey(masterUrl: string): string {
  try {
    const u = new URL(masterUrl);
    const scheme = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
    return `${scheme}//${u.host}`;
  } catch {
    return masterUrl.replace(/\/+$/, '');
  }
}

export class CredentialStore {
  readonly file: string;
  constructor(workDir: string) {
    this.file = path.join(workDir, CREDENTIAL_FILE);
  }

  private read(): CredentialFile {
    let raw: string;
    try {
      raw = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, masters: {} };
      throw e;
    }
    const v = JSON.parse(raw) as Partial<CredentialFile>;
    return { version: 1, masters: v.masters && typeof v.masters === 'object' ? v.masters : {} };
  }

  /** The secret this agent id holds for `masterUrl`, if any. */
  load(masterUrl: string, agentId: string): string | undefined {
    const entry = this.read().masters[masterKey(masterUrl)];
    return entry && entry.agentId === agentId && typeof entry.secret === 'string' ? entry.secret : undefined;
  }

  /** Stores a newly issued secret (written to a temporary file, then renamed: never half a file). */
  save(masterUrl: string, agentId: string, secret: string): void {
    let data: CredentialFile;
    try {
      data = this.read();
    } catch {
      data = { version: 1, masters: {} }; // an unreadable file is replaced
    }
    data.masters[masterKey(masterUrl)] = { agentId, secret, issuedAt: new Date().toISOString() };
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, this.file);
  }
}
