// The runs view: trials across experiments, filtered, sorted and paged in ONE query (reads trials, experiments and
// projects; writes nothing).
import type { Page, RunSummary, TrialState } from '@hone/protocol';
import type { Queryable } from './database';
import { SUMMARY_COLUMNS, toSummary } from './trials';

/** A range over a number (either bound open), or an exact value (categorical hyperparameters). */
export type RangeFilter = { name: string; min?: number; max?: number } | { name: string; equals: string };

export interface RunFilter {
  projectId?: number;
  experimentId?: number;
  states?: TrialState[];
  user?: string;
  archived?: boolean | 'all';
  label?: string;
  /** Over dotted hyperparameter names. */
  hp?: RangeFilter[];
  /** Over the latest validation metrics. */
  metric?: RangeFilter[];
  sort: { key: 'id' | 'experimentId' | 'state' | 'startTime' | 'endTime' | 'bestValidation' | 'trainedLength' } | { hp: string } | { metric: string };
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

const SORT_COLUMNS = {
  id: 't.id',
  experimentId: 't.experiment_id',
  state: 't.state',
  startTime: 't.start_time',
  endTime: 't.end_time',
  bestValidation: 't.best_validation',
  trainedLength: 't.trained_length',
} as const;
export const RUN_SORT_KEYS = Object.keys(SORT_COLUMNS) as Array<keyof typeof SORT_COLUMNS>;

export async function listRuns(q: Queryable, f: RunFilter): Promise<Page<RunSummary>> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  /** The value at a JSON path as a number (null when it is not a number), and as text. */
  const hpNum = (name: string) => `CASE WHEN jsonb_typeof(t.hparams #> ${p(name.split('.'))}::text[]) = 'number' THEN (t.hparams #>> $${params.length}::text[])::float8 END`;
  const hpText = (name: string) => `(t.hparams #>> ${p(name.split('.'))}::text[])`;
  const metricNum = (name: string) => `CASE WHEN jsonb_typeof(t.latest_validation -> ${p(name)}::text) = 'number' THEN (t.latest_validation ->> $${params.length}::text)::float8 END`;
  const range = (num: (n: string) => string, text: (n: string) => string, r: RangeFilter) => {
    if ('equals' in r) {
      where.push(`${text(r.name)} = ${p(r.equals)}`);
      return;
    }
    if (r.min !== undefined) where.push(`${num(r.name)} >= ${p(r.min)}`);
    if (r.max !== undefined) where.push(`${num(r.name)} <= ${p(r.max)}`);
  };
  if (f.projectId !== undefined) where.push(`e.project_id = ${p(f.projectId)}`);
  if (f.experimentId !== undefined) where.push(`t.experiment_id = ${p(f.experimentId)}`);
  if (f.states?.length) where.push(`t.state = ANY(${p(f.states)})`);
  if (f.user) where.push(`e.owner = ${p(f.user)}`);
  if (f.archived !== 'all') where.push(f.archived === true ? 'e.archived' : 'NOT e.archived');
  if (f.label) where.push(`e.labels @> ${p(JSON.stringify([f.label]))}::jsonb`);
  for (const r of f.hp ?? []) range(hpNum, hpText, r);
  for (const r of f.metric ?? []) range(metricNum, (n) => `(t.latest_validation ->> ${p(n)}::text)`, r);
  const whereParams = params.length;
  const dir = f.order === 'asc' ? 'ASC' : 'DESC';
  const keys =
    'key' in f.sort ? [SORT_COLUMNS[f.sort.key]] : 'hp' in f.sort ? [hpNum(f.sort.hp), hpText(f.sort.hp)] : [metricNum(f.sort.metric)];
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const from = `FROM trials t JOIN experiments e ON e.id = t.experiment_id ${w}`;
  // Filter once into narrow rows (id and sort keys), count them and take the page from them with a top-N sort;
  // only the page's rows are read wide: nothing carries the JSON columns of every matching trial.
  const orderBy = (of: string) => `ORDER BY ${keys.map((_, i) => `${of}k${i} ${dir} NULLS LAST`).join(', ')}, ${of}id ${dir}`;
  const r = await q.query(
    `WITH matching AS MATERIALIZED (SELECT t.id, ${keys.map((k, i) => `${k} AS k${i}`).join(', ')} ${from}),
          page AS (SELECT * FROM matching ${orderBy('')} LIMIT ${Math.trunc(f.limit)} OFFSET ${Math.trunc(f.offset)})
     SELECT ${SUMMARY_COLUMNS}, e.name AS experiment_name, pr.name AS project, e.owner, e.labels, e.archived, e.searcher_metric,
            e.smaller_is_better, (SELECT count(*) FROM matching) AS total
       FROM page JOIN trials t ON t.id = page.id JOIN experiments e ON e.id = t.experiment_id JOIN projects pr ON pr.id = e.project_id
      ${orderBy('page.')}`,
    params,
  );
  let total = r.rows[0] ? Number(r.rows[0].total) : 0;
  if (!r.rows.length && f.offset > 0) {
    // A page past the end has no row to carry the count.
    const c = await q.query<{ n: number }>(
      `SELECT count(*)::int AS n ${from}`,
      params.slice(0, whereParams),
    );
    total = c.rows[0]!.n;
  }
  const items: RunSummary[] = r.rows.map((row) => ({
    ...toSummary(row),
    experimentName: row.experiment_name,
    project: row.project,
    user: row.owner,
    labels: row.labels ?? [],
    archived: row.archived,
    metric: row.searcher_metric,
    smallerIsBetter: row.smaller_is_better,
  }));
  return { items, total, offset: f.offset, limit: f.limit };
}
