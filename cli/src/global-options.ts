// The options every command shares: which master to talk to, its access token, and JSON instead of tables.
import type { Command } from 'commander';
import { Client } from './client';

export function addGlobalOptions(program: Command): void {
  program
    .option('-m, --master <url>', 'master URL (env HONE_MASTER)', process.env.HONE_MASTER ?? 'http://127.0.0.1:8080')
    .option('--json', 'print JSON instead of tables')
    .option('--token <token>', 'access token (overrides env HONE_TOKEN)');
}

/** A client for the master named by -m/--master (or HONE_MASTER), authenticated by --token (or HONE_TOKEN). */
export function masterClient(program: Command): Client {
  const o = program.opts<{ master: string; token?: string }>();
  return new Client(o.master, o.token ?? process.env.HONE_TOKEN);
}

/** Whether to print JSON: the command's own --json, else the global one. */
export function wantsJson(program: Command, cmdOpts: { json?: boolean }): boolean {
  return Boolean(cmdOpts.json ?? program.opts().json);
}
