// /api/v1/runs: trials across experiments for the runs-first list, filtered, sorted and paged in one query.
import { Type } from 'typebox';
import type { Page, RunSummary, TrialState } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import type { App, MasterContext } from '../context';
import * as projectsDb from '../db/projects';
import { RUN_SORT_KEYS, listRuns, type RangeFilter, type RunFilter } from '../db/runs';
import { invalid, notFound } from '../errors';

const TRIAL_STATES: TrialState[] = ['ACTIVE', 'PAUSED', 'STOPPING_COMPLETED', 'STOPPING_CANCELED', 'STOPPING_ERROR', 'COMPLETED', 'CANCELED', 'ERROR'];
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,255}$/;

/** `name:min:max` (either bound empty) or `name:value`, comma-separated; `field` names the parameter in errors. */
export function parseRanges(s: string, field: string): RangeFilter[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((part) => {
      const bits = part.split(':');
      const name = bits[0]!;
      if (!NAME.test(name)) throw invalid(`${field}: "${name}" is not a ${field === 'hp' ? 'hyperparameter' : 'metric'} name`);
      if (bits.length === 2) return { name, equals: bits[1]! };
      if (bits.length !== 3) throw invalid(`${field}: write name:min:max or name:value, got "${part}"`);
      const bound = (b: string, which: string): number | undefined => {
        if (b === '') return undefined;
        const n = Number(b);
        if (!Number.isFinite(n)) throw invalid(`${field}: the ${which} of "${name}" must be a number, got "${b}"`);
        return n;
      };
      const min = bound(bits[1]!, 'minimum');
      const max = bound(bits[2]!, 'maximum');
      return { name, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
    });
}

export function registerRunRoutes(app: App, ctx: MasterContext): void {
  app.get(
    `${API_PREFIX}/runs`,
    {
      schema: {
        tags: ['trials'],
        querystring: Type.Object({
          project: Type.Optional(Type.String({ maxLength: 128 })),
          experiment_id: Type.Optional(Type.Integer({ minimum: 1 })),
          state: Type.Optional(Type.String({ maxLength: 256 })),
          user: Type.Optional(Type.String({ maxLength: 128 })),
          archived: Type.Union([Type.Literal('false'), Type.Literal('true'), Type.Literal('all')], { default: 'false' }),
          label: Type.Optional(Type.String({ maxLength: 256 })),
          hp: Type.Optional(Type.String({ maxLength: 4096 })),
          metric: Type.Optional(Type.String({ maxLength: 4096 })),
          sort: Type.String({ default: 'id', maxLength: 300 }),
          order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        }),
      },
    },
    async (req): Promise<Page<RunSummary>> => {
      const q = req.query;
      let sort: RunFilter['sort'];
      if (q.sort.startsWith('hp.') && NAME.test(q.sort.slice(3))) sort = { hp: q.sort.slice(3) };
      else if (q.sort.startsWith('metric.') && NAME.test(q.sort.slice(7))) sort = { metric: q.sort.slice(7) };
      else if ((RUN_SORT_KEYS as string[]).includes(q.sort)) sort = { key: q.sort as (typeof RUN_SORT_KEYS)[number] };
      else throw invalid(`sort: must be one of ${RUN_SORT_KEYS.join(', ')}, hp.NAME or metric.NAME; got "${q.sort}"`);
      let states: TrialState[] | undefined;
      if (q.state) {
        states = q.state.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean) as TrialState[];
        const bad = states.find((s) => !TRIAL_STATES.includes(s));
        if (bad) throw invalid(`state: unknown trial state "${bad}" (expected ${TRIAL_STATES.join(', ')})`);
      }
      let projectId: number | undefined;
      if (q.project) {
        const pid = await projectsDb.projectId(ctx.db, q.project);
        if (pid === null) throw notFound('project', q.project);
        projectId = pid;
      }
      return listRuns(ctx.db, {
        ...(projectId !== undefined ? { projectId } : {}),
        ...(q.experiment_id !== undefined ? { experimentId: q.experiment_id } : {}),
        ...(states ? { states } : {}),
        ...(q.user ? { user: q.user } : {}),
        archived: q.archived === 'all' ? 'all' : q.archived === 'true',
        ...(q.label ? { label: q.label } : {}),
        ...(q.hp ? { hp: parseRanges(q.hp, 'hp') } : {}),
        ...(q.metric ? { metric: parseRanges(q.metric, 'metric') } : {}),
        sort,
        order: q.order,
        offset: q.offset,
        limit: q.limit,
      });
    },
  );
}
