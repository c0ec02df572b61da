// The options every command shares: which master to talk to, the token to sign requests with, the CA that
// signed an https master's certificate, and JSON instead of tables.
import type { Command } from 'commander';
import { authFilePath, findSession, readAuthFile } from './auth-file';
import { Client, type ClientOptions } from './client';

export function addGlobalOptions(program: Command): void {
  program
    .option('-m, --master <url>', 'master URL (env HONE_MASTER)', process.env.HONE_MASTER ?? 'http://127.0.0.1:8080')
    .option('--json', 'print JSON instead of tables')
    .option('--token <token>', 'access token (overrides env HONE_TOKEN and the session of `hone user login`)')
    .option('--ca <file>', "PEM certificate of a private CA that signed an https master's certificate (env HONE_CA)");
}

interface GlobalOptions {
  master: string;
  token?: string;
  ca?: string;
}

/** The token for `master`: --token, else HONE_TOKEN, else the session kept in the auth file for that URL. */
export function resolveToken(o: GlobalOptions, env: NodeJS.ProcessEnv = process.env): ClientOptions {
  if (o.token) return { token: o.token, tokenSource: '--token' };
  if (env.HONE_TOKEN) return { token: env.HONE_TOKEN, tokenSource: 'HONE_TOKEN' };
  const authFile = authFilePath(env);
  const session = findSession(readAuthFile(authFile), o.master);
  return session ? { token: session.token, tokenSource: 'auth file', authFile } : { authFile };
}

/** A client for the master named by -m/--master (or HONE_MASTER), signed in as `resolveToken` says. */
export function masterClient(program: Command): Client {
  const o = program.opts<GlobalOptions>();
  const ca = o.ca ?? process.env.HONE_CA;
  return new Client(o.master, { ...resolveToken(o), ...(ca ? { caFile: ca } : {}) });
}

/** Whether to print JSON: the command's own --json, else the global one. */
export function wantsJson(program: Command, cmdOpts: { json?: boolean }): boolean {
  return Boolean(cmdOpts.json ?? program.opts().json);
}
