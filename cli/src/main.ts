// The `hone` command line. Tables by default, --json everywhere; -m/--master or HONE_MASTER picks the master.
// Each noun's commands live in commands/<noun>.ts; this file only assembles them, in the order help lists them.
import { Command } from 'commander';
import { HoneError } from '@hone/protocol/errors';
import { addGlobalOptions } from './global-options';
import { registerAgentCommands } from './commands/agent';
import { registerCheckpointCommands } from './commands/checkpoint';
import { registerConfigCommands } from './commands/config';
import { registerExperimentCommands } from './commands/experiment';
import { registerForecastCommand } from './commands/forecast';
import { registerJobCommands } from './commands/job';
import { registerMasterCommands } from './commands/master';
import { registerModelCommands } from './commands/model';
import { registerProjectCommands } from './commands/project';
import { registerResourcePoolCommands } from './commands/resource-pool';
import { registerSearcherCommands } from './commands/searcher';
import { registerSlotCommands } from './commands/slot';
import { registerTokenCommands } from './commands/token';
import { registerTrialCommands } from './commands/trial';
import { registerUserCommands } from './commands/user';
import { registerWebhookCommands } from './commands/webhook';

const program = new Command().name('hone').description('Hone: train deep learning models on a cluster — experiments, trials, agents');
addGlobalOptions(program);
// Set before the commands are added: each subcommand copies it when created.
program.showHelpAfterError();

registerExperimentCommands(program);
registerForecastCommand(program.commands.find((c) => c.name() === 'experiment')!, program);
registerTrialCommands(program);
registerProjectCommands(program);
registerModelCommands(program);
registerAgentCommands(program);
registerSlotCommands(program);
registerResourcePoolCommands(program);
registerJobCommands(program);
registerCheckpointCommands(program);
registerConfigCommands(program);
registerMasterCommands(program);
registerUserCommands(program);
registerTokenCommands(program);
registerSearcherCommands(program);
registerWebhookCommands(program);

// A reader that goes away (`hone ... | head`) is not an error: stop quietly, as cat and grep do.
const isClosedPipe = (e: unknown): boolean => (e as NodeJS.ErrnoException | null)?.code === 'EPIPE';
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (isClosedPipe(e)) process.exit(0);
    throw e;
  });
}

if (process.argv.length <= 2) {
  // `hone` alone is a question: answer with the help, successfully.
  program.outputHelp();
} else {
  program.parseAsync(process.argv).catch((e: unknown) => {
    if (isClosedPipe(e)) process.exit(0);
    console.error(`Error: ${(e as Error).message}`);
    // 3 says the master could not be reached at all (no HTTP answer); any other failure is 1.
    process.exit(e instanceof HoneError && e.status === 0 ? 3 : 1);
  });
}
