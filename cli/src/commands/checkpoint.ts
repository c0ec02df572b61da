// `hone checkpoint`: describe a checkpoint, or download its files.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { CheckpointInfo } from '@hone/protocol/api';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';

export function registerCheckpointCommands(program: Command): void {
  const checkpoint = program.command('checkpoint').alias('c').description('checkpoints');
  checkpoint
    .command('describe <uuid>')
    .option('--json', 'print JSON')
    .action(async (uuid: string, o: { json?: boolean }) => {
      const c = await masterClient(program).get<CheckpointInfo>(`/checkpoints/${uuid}`);
      if (wantsJson(program, o)) return printJson(c);
      console.log(table(['UUID', 'Trial', 'Steps', 'State', 'Files'], [[c.uuid, c.trialId, c.stepsCompleted, c.state, Object.keys(c.resources).join(', ')]]));
    });
  checkpoint
    .command('download <uuid>')
    .description("write a checkpoint's files to a directory")
    .option('-o, --output <dir>', 'output directory (default: ./checkpoints/<uuid>)')
    .action(async (uuid: string, o: { output?: string }) => {
      const dir = path.resolve(o.output ?? path.join('checkpoints', uuid));
      const c = masterClient(program);
      const body = await c.raw(`/checkpoints/${uuid}/download`);
      const tar = await import('tar');
      fs.mkdirSync(dir, { recursive: true });
      // The master sends the checkpoint's files as one tar stream; a connection lost midway is "unreachable" too.
      await c.connected(() => pipeline(body, tar.x({ cwd: dir, strict: true })));
      console.log(`Checkpoint ${uuid} written to ${dir}`);
    });
}
