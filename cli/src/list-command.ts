// `hone <noun> list` (alias `ls`) for the nouns whose listing is one GET: a table, or the items as JSON.
import type { Command } from 'commander';
import type { Client } from './client';
import { masterClient, wantsJson } from './global-options';
import { printJson, table, type Cell } from './output';

export function addListCommand<T>(
  noun: Command,
  program: Command,
  list: { fetch: (c: Client) => Promise<T[]>; head: string[]; row: (item: T) => Cell[]; description?: string },
): void {
  noun
    .command('list')
    .alias('ls')
    .description(list.description ?? '')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const items = await list.fetch(masterClient(program));
      if (wantsJson(program, o)) return printJson(items);
      console.log(table(list.head, items.map(list.row)));
    });
}
