// Import rules checked by `npm run lint` (dependency-cruiser). A broken rule fails CI.
/* global module */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import circles: a circle means two modules are one concept split in two, or a seam is missing.',
      from: { path: '^(master|harness|webui|cli|agent|protocol)/src' },
      to: { circular: true },
    },
    {
      name: 'composition-root-stays-on-top',
      severity: 'error',
      comment:
        'master/src/server.ts builds the master (the composition root). Nothing below it imports it: parts get what they need from context.ts. Only main.ts and tests may.',
      from: { path: '^master/src', pathNot: ['^master/src/main\\.ts$', '\\.test\\.ts$'] },
      to: { path: '^master/src/server\\.ts$' },
    },
    {
      name: 'sql-only-in-repositories',
      severity: 'error',
      comment: 'Only the repositories under master/src/db speak SQL; they get the database handle from database.ts.',
      from: { path: '^master/src', pathNot: ['^master/src/db/', '\\.test\\.ts$'] },
      to: { path: '^node_modules/(pg|@electric-sql/pglite)/' },
    },
    {
      name: 'pure-cores-stay-pure',
      severity: 'error',
      comment: 'The searcher, the scheduler and the lifecycle decisions are pure: they import no database, API, agent or controller module and no network or logging library.',
      from: { path: '^master/src/(searcher|scheduler)/|^master/src/rm/lifecycle\\.ts$', pathNot: '\\.test\\.ts$' },
      to: { path: '^master/src/(db|api|rm/agents|experiments)/|^node_modules/(pg|fastify|ws|pino)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'protocol-has-no-dependents-inside',
      severity: 'error',
      comment: 'protocol/ holds the contracts between processes and imports none of them.',
      from: { path: '^protocol/src' },
      to: { path: '^(master|harness|webui|cli|agent)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'default'], extensions: ['.ts', '.tsx', '.js', '.mjs'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
