// A private CA and a server certificate it signed for 127.0.0.1 (and localhost), made with openssl for a test's
// https server: clients that are given the CA trust the server, others refuse it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './processes';

export interface TestCertificates {
  /** PEM file of the CA certificate (what `--ca` / NODE_EXTRA_CA_CERTS take). */
  caFile: string;
  /** The server's key and certificate, PEM. */
  key: string;
  cert: string;
}

export function privateCa(name = 'Hone test CA'): TestCertificates {
  const dir = tmpDir('tls');
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', `/CN=${name}`]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext']);
  return { caFile: path.join(dir, 'ca.pem'), key: fs.readFileSync(path.join(dir, 'server.key'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'server.pem'), 'utf8') };
}
