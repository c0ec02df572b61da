// `hone master info`: which master answers, its version and database.
import type { Command } from 'commander';
import { masterClient, wantsJson } from '../global-options';
import { printJson } from '../output';

export function registerMasterCommands(program: Command): void {
  program
    .command('master')
    .description('the master')
    .command('info')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const client = masterClient(program);
      const info = await client.get<{ version: string; database: string }>('/master');
      if (wantsJson(program, o)) return printJson(info);
      console.log(`Master ${client.base}: version ${info.version}, database ${info.database}`);
    });
}
