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

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
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

  /**
   * The secret this agent id holds for `masterUrl`, if any. Failing an entry for that exact URL, one for the same
   * host under another scheme or port (the master moved to https, say) is used: the master decides if it is valid.
   */
  load(masterUrl: string, agentId: string): string | undefined {
    const masters = this.read().masters;
    const ok = (e: CredentialFile['masters'][string] | undefined) => !!e && e.agentId === agentId && typeof e.secret === 'string';
    const exact = masters[masterKey(masterUrl)];
    if (ok(exact)) return exact!.secret;
    const host = hostOf(masterUrl);
    const sameHost = Object.entries(masters).filter(([k, e]) => hostOf(k) === host && ok(e));
    return sameHost.length === 1 ? sameHost[0]![1].secret : undefined;
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
