// `hone project`: projects group experiments (each experiment has one, `default` unless named).
import type { Command } from 'commander';
import type { ExperimentSummary, Page, ProjectInfo } from '@hone/protocol/api';
import { formatTableNumber, formatUtcTime } from '@hone/protocol/format';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';

export function registerProjectCommands(program: Command): void {
  const project = program.command('project').alias('p').description('projects: groups of experiments');
  project
    .command('create <name>')
    .description('create a project (you are its owner; anyone may put experiments in it)')
    .option('--description <text>', 'what the project is for')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { description?: string; json?: boolean }) => {
      const p = await masterClient(program).post<ProjectInfo>('/projects', { name, ...(o.description !== undefined ? { description: o.description } : {}) });
      if (wantsJson(program, o)) return printJson(p);
      console.log(`Created project ${p.name}`);
    });
  project
    .command('list')
    .alias('ls')
    .description('list projects')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const ps = await masterClient(program).get<ProjectInfo[]>('/projects');
      if (wantsJson(program, o)) return printJson(ps);
      console.log(
        table(
          ['Name', 'Owner', 'Experiments', 'Active', 'Last started', 'Description'],
          ps.map((p) => [p.name, p.owner, p.numExperiments, p.numActiveExperiments, p.lastExperimentStartedAt ? formatUtcTime(p.lastExperimentStartedAt) : '', p.description]),
        ),
      );
    });
  project
    .command('describe <name>')
    .description('a project and its experiments (archived ones with --all)')
    .option('--all', 'archived experiments too')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { all?: boolean; json?: boolean }) => {
      const c = masterClient(program);
      const p = await c.get<ProjectInfo>(`/projects/${encodeURIComponent(name)}`);
      const exps = await c.get<Page<ExperimentSummary>>(`/experiments?project=${encodeURIComponent(name)}&archived=${o.all ? 'all' : 'false'}&limit=1000`);
      if (wantsJson(program, o)) return printJson({ ...p, experiments: exps.items });
      console.log(
        [
          `Project ${p.name}`,
          `  Owner:       ${p.owner}`,
          `  Created:     ${formatUtcTime(p.createdAt)}`,
          `  Experiments: ${p.numExperiments} (${p.numActiveExperiments} active)`,
          ...(p.description ? [`  Description: ${p.description}`] : []),
          '',
          table(
            ['ID', 'Name', 'Owner', 'State', 'Trials', 'Best', 'Started'],
            exps.items.map((e) => [e.id, `${e.name}${e.archived ? ' (archived)' : ''}`, e.user, e.state, e.numTrials, formatTableNumber(e.bestMetric), formatUtcTime(e.startTime)]),
          ),
        ].join('\n'),
      );
    });
}
