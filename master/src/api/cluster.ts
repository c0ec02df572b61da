// Cluster views: agents, slots, resource pools and the job queue (`hone agent list`, `slot list`, ...), as the
// resource manager describes them.
import type { AgentInfo, JobInfo, ResourcePoolInfo } from '@hone/protocol';
import { API_PREFIX } from '@hone/protocol';
import type { App, MasterContext } from '../context';

export function registerClusterRoutes(app: App, ctx: MasterContext): void {
  app.get(`${API_PREFIX}/agents`, { schema: { tags: ['cluster'] } }, async (): Promise<AgentInfo[]> => ctx.rm.describeAgents());
  app.get(`${API_PREFIX}/resource-pools`, { schema: { tags: ['cluster'] } }, async (): Promise<ResourcePoolInfo[]> => ctx.rm.describePools());
  app.get(`${API_PREFIX}/jobs`, { schema: { tags: ['cluster'] } }, async (): Promise<JobInfo[]> => ctx.rm.describeJobs());
}
