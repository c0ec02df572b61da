// /api/v1/projects: create, list, describe, edit. A project groups experiments; anyone signed in may create one
// and put experiments in it (its owner is who created it).
import { Type } from 'typebox';
import type { ProjectInfo } from '@hone/protocol';
import { API_PREFIX, nameRefusal } from '@hone/protocol';
import type { App, MasterContext } from '../context';
import { requireOwnerOrAdmin } from '../auth/permissions';
import * as projectsDb from '../db/projects';
import { HoneError, invalid, notFound } from '../errors';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });

export function registerProjectRoutes(app: App, ctx: MasterContext): void {
  app.get(`${API_PREFIX}/projects`, { schema: { tags: ['projects'] } }, async (): Promise<ProjectInfo[]> => projectsDb.listProjects(ctx.db));

  app.post(
    `${API_PREFIX}/projects`,
    {
      schema: {
        tags: ['projects'],
        body: Type.Object({ name: Type.String({ maxLength: 256 }), description: Type.Optional(Type.String({ maxLength: 16384 })) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const bad = nameRefusal(req.body.name);
      if (bad) throw invalid(`name: ${bad}`);
      const p = await projectsDb.insertProject(ctx.db, { name: req.body.name, description: req.body.description ?? '', owner: req.user!.username });
      if (!p) throw new HoneError('CONFLICT', `name: a project named "${req.body.name}" already exists`);
      return reply.status(201).send(p);
    },
  );

  app.get(`${API_PREFIX}/projects/:name`, { schema: { params: NameParams, tags: ['projects'] } }, async (req): Promise<ProjectInfo> => {
    const p = await projectsDb.getProject(ctx.db, req.params.name);
    if (!p) throw notFound('project', req.params.name);
    return p;
  });

  app.patch(
    `${API_PREFIX}/projects/:name`,
    {
      schema: {
        params: NameParams,
        tags: ['projects'],
        body: Type.Object({ description: Type.Optional(Type.String({ maxLength: 16384 })) }, { additionalProperties: false }),
      },
    },
    async (req): Promise<ProjectInfo> => {
      const p = await projectsDb.getProject(ctx.db, req.params.name);
      if (!p) throw notFound('project', req.params.name);
      requireOwnerOrAdmin(req.user!, p.owner, `edit project ${p.name}`);
      if (req.body.description !== undefined) await projectsDb.setProjectDescription(ctx.db, p.name, req.body.description);
      return (await projectsDb.getProject(ctx.db, p.name))!;
    },
  );
}
