// Projects repository: the only code that reads or writes `projects`. A project groups experiments (each
// experiment has one, `default` unless named); its owner is who created it, not a permission.
import type { ProjectInfo } from '@hone/protocol';
import type { Queryable } from './database';
import { iso, isoOrNull } from './sql';

const COLUMNS = `p.id, p.name, p.description, p.owner, p.created_at,
  (SELECT count(*) FROM experiments e WHERE e.project_id = p.id) AS num_experiments,
  (SELECT count(*) FROM experiments e WHERE e.project_id = p.id AND e.state NOT IN ('COMPLETED','CANCELED','ERROR')) AS num_active,
  (SELECT max(e.start_time) FROM experiments e WHERE e.project_id = p.id) AS last_started`;

function toInfo(r: any): ProjectInfo {
  return {
    id: Number(r.id),
    name: r.name,
    description: r.description,
    owner: r.owner,
    createdAt: iso(r.created_at),
    numExperiments: Number(r.num_experiments ?? 0),
    numActiveExperiments: Number(r.num_active ?? 0),
    lastExperimentStartedAt: isoOrNull(r.last_started),
  };
}

/** Creates a project; null when the name is taken. */
export async function insertProject(q: Queryable, p: { name: string; description: string; owner: string }): Promise<ProjectInfo | null> {
  const r = await q.query<{ id: number }>(
    'INSERT INTO projects (name, description, owner) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id',
    [p.name, p.description, p.owner],
  );
  return r.rows[0] ? getProject(q, p.name) : null;
}

export async function getProject(q: Queryable, name: string): Promise<ProjectInfo | null> {
  const r = await q.query(`SELECT ${COLUMNS} FROM projects p WHERE p.name = $1`, [name]);
  return r.rows[0] ? toInfo(r.rows[0]) : null;
}

export async function projectId(q: Queryable, name: string): Promise<number | null> {
  const r = await q.query<{ id: number }>('SELECT id FROM projects WHERE name = $1', [name]);
  return r.rows[0] ? Number(r.rows[0].id) : null;
}

export async function listProjects(q: Queryable): Promise<ProjectInfo[]> {
  const r = await q.query(`SELECT ${COLUMNS} FROM projects p ORDER BY p.name`);
  return r.rows.map(toInfo);
}

export async function setProjectDescription(q: Queryable, name: string, description: string): Promise<boolean> {
  const r = await q.query('UPDATE projects SET description = $2 WHERE name = $1 RETURNING id', [name, description]);
  return r.rows.length > 0;
}
