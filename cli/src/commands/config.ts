// `hone config validate`: an experiment config checked and printed with its defaults, without a master.
import type { Command } from 'commander';
import { readConfigFile } from '../config-file';
import { printJson } from '../output';

export function registerConfigCommands(program: Command): void {
  program
    .command('config')
    .description('experiment config helpers')
    .command('validate <config>')
    .description('check an experiment config and print it with defaults filled in')
    .action(async (configPath: string) => {
      printJson((await readConfigFile(configPath)).config);
    });
}
